from scandex.cli import main

main()
