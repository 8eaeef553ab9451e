"""Line normalization shared by training and recognition: one function, one code path.

A text line of any height (about 12 to 300 px), gray or binary, becomes a float32 image of a fixed
height with ink = 1 and paper = 0. Following OCRopus's centre normalizer, the line is dewarped
around its smoothed centre line (so slight skew and baseline wobble vanish) and scaled so that
the band of ink around that centre fills a fixed share of the height. Aspect ratio is kept, so
the recognizer sees characters of a consistent width.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from scandex.ocr.components import label_components, mask_points

DEFAULT_HEIGHT_PX = 32


@dataclass(frozen=True)
class NormalizeParams:
    height_px: int = DEFAULT_HEIGHT_PX
    pad_px: int = 8  # blank columns added on each side, room for CTC to start and stop
    band_fill: float = 0.9  # share of the height taken by the ink band around the centre
    band_quantile: float = 0.99  # which |distance from centre| of ink pixels is the band edge
    drop_neighbours: bool = True  # blank marks of the lines above and below before measuring
    flat_mark_share: float = 0.85  # band half-height >= this share of the marks' median width
    flat_mark_max_growth: float = 8.0  # ... but at most this many times the measured one
    flat_mark_aspect: float = 0.4  # a mark lower than this share of its width is flat
    # Room for the accents over capitals that the band leaves out, on a line of capitals
    # (`room_for_accents`).
    room_for_accents: bool = True
    accent_reach: float = 0.5  # an accent's gap to its letter, in band half-heights, at most
    accent_room_max: float = 0.75  # rows added, in band half-heights, at most
    # A line of capitals: this share of its letters within its x-height band give or take
    # `capital_slack` of that height (no ascenders, no descenders).
    capital_share: float = 0.9
    capital_slack: float = 0.2
    capital_tall_share: float = 0.6  # ... and this share of them as tall as the tallest


@dataclass(frozen=True)
class NormalizedLine:
    image: np.ndarray  # float32 (height_px, width), ink = 1, paper = 0
    scale: float  # output pixels per input pixel
    crop_x0: int  # input column that output column `pad_px` came from
    pad_px: int
    input_width: int = 0  # width of the line image that was normalized
    # A line of capitals (`letters_are_capitals`): a model's capitals companion reads it.
    capitals: bool = False

    def to_input_x(self, x_out: float | np.ndarray) -> float | np.ndarray:
        """Map an output column position back to the input line image's x (clipped to it)."""
        x = self.crop_x0 + (x_out - self.pad_px) / self.scale
        return np.clip(x, 0, self.input_width) if self.input_width else x

    def shifted(self, columns: int) -> NormalizedLine:
        """The same line moved right by `columns` blank columns (mapped back as before)."""
        blank = np.zeros((self.image.shape[0], columns), self.image.dtype)
        return replace(
            self, image=np.concatenate([blank, self.image], axis=1), pad_px=self.pad_px + columns
        )


def ink_map(line: np.ndarray) -> np.ndarray:
    """Float32 ink in 0..1 (1 = darkest ink) with the paper level mapped to 0.

    Accepts bool (True = ink), uint8/uint16 gray (white paper) or float gray in 0..1.
    """
    if line.ndim == 3:
        line = cv2.cvtColor(line, cv2.COLOR_BGR2GRAY)
    if line.dtype == bool:
        return line.astype(np.float32)
    if line.size == 0:
        return line.astype(np.float32)
    if line.dtype == np.uint8:
        paper, dark = _uint8_percentiles(line, (75.0, 1.0)) / 255.0
        # The stretch of each of the 256 levels, looked up: one pass over the pixels
        # instead of five, and the same float32 values.
        levels = np.arange(256, dtype=np.float32) / 255.0
        return cv2.LUT(line, _stretch(levels, paper, dark))
    scale = 65535.0 if line.dtype == np.uint16 else 1.0
    gray = line.astype(np.float32) / scale
    paper, dark = np.percentile(gray, [75, 1])
    return _stretch(gray, float(paper), float(dark))


def _uint8_percentiles(image: np.ndarray, percents: tuple[float, ...]) -> np.ndarray:
    """Percentiles of a uint8 image from its histogram (a sort would cost ten times more)."""
    # OpenCV's histogram (float32 counts, exact below 2**24 pixels a level): numpy's
    # bincount first widens every pixel to a 64-bit index.
    counts = cv2.calcHist([image], [0], None, [256], [0, 256]).ravel().astype(np.int64)
    cumulative = np.cumsum(counts)
    ranks = np.array(percents) / 100.0 * (cumulative[-1] - 1)
    return np.searchsorted(cumulative, ranks, side="right").astype(np.float32)


def _stretch(gray: np.ndarray, paper: float, dark: float) -> np.ndarray:
    """Ink 0..1 between the paper level and the ink level.

    Most of a line image is paper: its upper quartile is the white level; the darkest percent
    is the ink level.
    """
    contrast = paper - dark
    if contrast < 0.08:
        return np.zeros_like(gray)
    return np.clip((paper - gray) / contrast, 0.0, 1.0)


def _blank(params: NormalizeParams, input_width: int) -> NormalizedLine:
    width = 2 * params.pad_px + 1
    image = np.zeros((params.height_px, width), np.float32)
    return NormalizedLine(image, 1.0, 0, params.pad_px, input_width)


def _centre_line(ink: np.ndarray, size_px: float) -> np.ndarray:
    """Per-column y of the line's smoothed centre (the densest band of ink).

    Worked out on a copy shrunk so the line is about 12 px tall: the centre is a smooth curve,
    and large Gaussian kernels at full resolution would dominate the cost of normalization.
    """
    height, width = ink.shape
    shrink = max(1.0, size_px / 12.0)
    small_w = max(1, int(round(width / shrink)))
    small_h = max(1, int(round(height / shrink)))
    small = cv2.resize(ink, (small_w, small_h), interpolation=cv2.INTER_AREA)
    size = size_px / shrink
    smoothed = cv2.GaussianBlur(small, (0, 0), sigmaX=max(1.0, size), sigmaY=max(0.7, 0.25 * size))
    # Columns far from any ink get a weak pull towards the line's overall centre.
    smoothed = smoothed + 0.001 * smoothed.mean(axis=1, keepdims=True)
    centre = np.argmax(smoothed, axis=0).astype(np.float32)
    # Smooth over about two line heights: the centre follows skew and wobble, not each word.
    centre = cv2.GaussianBlur(
        centre.reshape(1, -1),
        (0, 0),
        sigmaX=max(1.0, 2.0 * size),
        borderType=cv2.BORDER_REPLICATE,
    ).ravel()
    # Back to full resolution: pixel centres of the small image map to (i + 0.5) * scale - 0.5.
    small_x = (np.arange(small_w) + 0.5) * (width / small_w) - 0.5
    full = np.interp(np.arange(width), small_x, centre)
    return ((full + 0.5) * (height / small_h) - 0.5).astype(np.float32)


@dataclass(frozen=True)
class TextBand:
    """A line image's own x-height band: rows y0..y1 (exclusive) where the line is level,
    `drift[x]` rows lower at column x where it bends (None: level throughout)."""

    y0: int
    y1: int
    drift: np.ndarray | None = None

    @property
    def height_px(self) -> int:
        return self.y1 - self.y0

    def drift_at(self, x: np.ndarray) -> np.ndarray:
        """How many rows lower the band lies at columns `x` (0 on a level line)."""
        if self.drift is None:
            return np.zeros(np.shape(x))
        return self.drift[np.clip(np.asarray(x, np.int64), 0, len(self.drift) - 1)]


def true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of each run of True in a 1-D mask."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _band_rows(rows: np.ndarray, height: int) -> tuple[int, int] | None:
    """The run of rows (start, end) that holds the most of the stroke edges at `rows`."""
    profile = np.bincount(np.clip(rows, 0, height - 1), minlength=height).astype(np.float32)
    if profile.max() <= 0:
        return None
    smooth = cv2.GaussianBlur(profile.reshape(-1, 1), (1, 0), sigmaX=0, sigmaY=1.0)
    starts, ends = _densest_runs(smooth.reshape(1, -1))
    return int(starts[0]), int(ends[0])


def _densest_runs(profiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of `profiles` (smoothed, none all zero): the run of entries at or above half
    the row's peak that holds the most of it, a run the row's ends cut counting half; as
    (starts, ends), the first of equal runs."""
    count, length = profiles.shape
    above = profiles >= 0.5 * profiles.max(axis=1, keepdims=True)
    padded = np.zeros((count, length + 2), np.int8)
    padded[:, 1:-1] = above
    steps = np.diff(padded, axis=1)
    _, run_starts = np.nonzero(steps == 1)
    run_rows, run_ends = np.nonzero(steps == -1)  # row-major: the same runs in the same order
    sums = np.zeros((count, length + 1), np.float64)
    np.cumsum(profiles, axis=1, out=sums[:, 1:])
    mass = sums[run_rows, run_ends] - sums[run_rows, run_starts]
    mass = np.where((run_starts == 0) | (run_ends == length), 0.5 * mass, mass)
    # The heaviest run of each row; on a tie the first.
    order = np.lexsort((np.arange(len(mass)), -mass, run_rows))
    first = order[np.searchsorted(run_rows[order], np.arange(count))]
    return run_starts[first], run_ends[first]


def line_drift(
    rows: np.ndarray, cols: np.ndarray, width: int, level: tuple[int, int]
) -> np.ndarray | None:
    """How many rows lower than `level` (the band of the whole line's strokes at rows, cols)
    a line's band lies at each column, where a page that is not flat bends the line by a good
    part of its x-height from one end to the other (deskewing the whole page does not take
    that out); None for a line that is level within that.

    The band of each stretch of a few x-heights, searched within an x-height of the level
    one, and a parabola through the stretches' centres: a smooth bend, not the jumps from
    stretch to stretch that a word of capitals or a neighbour's marks in a gap would make.
    """
    band_height = level[1] - level[0]
    stretch = max(5 * band_height, 20)
    if width < 3 * stretch:
        return None
    window_top, window = level[0] - band_height, 3 * band_height
    near = (rows >= window_top) & (rows < window_top + window)
    bounds = np.linspace(0, width, width // stretch + 1)
    which = np.searchsorted(bounds, cols[near], side="right") - 1
    counts = np.bincount(
        which * window + (rows[near] - window_top), minlength=(len(bounds) - 1) * window
    ).reshape(len(bounds) - 1, window)
    strokes = counts.sum(axis=1)
    placed = np.flatnonzero(strokes >= 4 * band_height)  # enough strokes to place a band
    # A parabola passes through any three points: only a fourth tests that there is a bend.
    if len(placed) < 4:
        return None
    profiles = cv2.GaussianBlur(counts[placed].astype(np.float32), (0, 1), sigmaX=1.0, sigmaY=0)
    starts, ends = _densest_runs(profiles)
    middles = (starts + ends) / 2.0 + window_top
    centres = (bounds[placed] + bounds[placed + 1]) / 2.0
    fit = np.polyfit(centres, middles, 2, w=np.sqrt(strokes[placed]))
    residual = float(np.sort(np.abs(np.polyval(fit, centres) - middles))[len(middles) // 2])
    # Beyond the stretches it was measured on the band is held, not extrapolated: a faded
    # end with too few strokes to place let the parabola run off by three line heights
    # there, and the whole line was blanked as its neighbours' ink.
    measured = np.clip(np.arange(width), centres[0], centres[-1])
    drift = np.polyval(fit, measured) - (level[0] + level[1]) / 2.0
    if residual > 0.25 * band_height or np.ptp(drift) < 0.4 * band_height:
        return None
    return drift.astype(np.float32)


def own_text_band(strong: np.ndarray, labels: np.ndarray, whole: np.ndarray) -> TextBand | None:
    """The x-height band of the line this image was cut for, among slivers of its neighbours.

    A line cut from a single-spaced page carries the descenders of the line above and the tops
    of the line below, often a whole band of them, cut by the line's outline. The line's own
    band is the run of rows that crosses the most strokes (ink-to-paper edges per row, so an
    underline or a rule, one long stroke, does not count as text) of marks that the image's top
    and bottom edges did not cut (`whole`, per label of `labels`, the marks; label 0 is the
    paper): the own line is whole, its neighbours are not. On a line that bends
    (`line_drift`) the rows are counted along the bend, or the band would be the ends' bands
    together, too low at one end and too high at the other.
    """
    height, width = strong.shape
    edges = strong[:, :-1] & ~strong[:, 1:]
    rows, cols = mask_points(edges)
    # Looked up at the edges alone: a tenth of the pixels of a per-pixel map of whole marks.
    on_whole = whole[labels[rows, cols]]
    if on_whole.any():  # else every mark is cut (a crop tighter than its letters): use them all
        rows, cols = rows[on_whole], cols[on_whole]
    level = _band_rows(rows, height)
    if level is None:
        return None
    drift = line_drift(rows, cols, width, level)
    if drift is None:
        return TextBand(*level)
    along = _band_rows(np.rint(rows - drift[cols]).astype(np.int64), height)
    return TextBand(*(along or level), drift)


def neighbour_marks(
    labels: np.ndarray,
    stats: np.ndarray,
    speck: np.ndarray,
    params: NormalizeParams = NormalizeParams(),
) -> tuple[np.ndarray, bool]:
    """Per mark of a line image (`labels`, `stats`: its marks; `speck`: which of them are
    noise, see `specks`), whether it belongs to a neighbouring line; and whether the line is
    of capitals (`letters_are_capitals`).

    A mark is the line's own if it reaches into the line's x-height band, or if it floats
    close above or below it (quotes, accents, i-dots, commas, underlines) without being cut
    by the image's edge. Everything else is a neighbour's ascender, descender or sliver.
    """
    strong = labels > 0
    top = stats[1:, cv2.CC_STAT_TOP]
    bottom = top + stats[1:, cv2.CC_STAT_HEIGHT]
    cut = (top == 0) | (bottom == strong.shape[0])
    band = own_text_band(strong, labels, np.concatenate([[False], ~cut & ~speck]))
    if band is None:
        return np.zeros(cut.shape, bool), False
    comp_height = bottom - top
    # Each mark measured against the band where it stands, on a sloping line too.
    drift = band.drift_at(stats[1:, cv2.CC_STAT_LEFT] + stats[1:, cv2.CC_STAT_WIDTH] // 2)
    top, bottom = top - drift, bottom - drift
    # In a row of "=" the band is one bar, and the other bar would pass for a neighbour's.
    in_band = (top < band.y1) & (bottom > band.y0)
    widths = stats[1:, cv2.CC_STAT_WIDTH]
    flat_size = flat_mark_size(comp_height[in_band], widths[in_band], band.height_px, params)
    x_height = max(2.0, band.height_px, flat_size)
    overlap = np.minimum(bottom, band.y1) - np.maximum(top, band.y0)
    reaches_band = overlap >= np.maximum(1.0, 0.35 * np.minimum(comp_height, x_height))
    # A comma hangs from the band (it starts in its last rows or right under them) and a
    # quote stands on it: on some typewriters they reach most of an x-height below and more
    # than one above. The marks of the lines above and below end or start well off the band.
    hangs = top <= band.y1 + 0.15 * x_height
    stands = bottom >= band.y0 - 0.15 * x_height
    below = np.where(hangs, 1.0, 0.7) * x_height
    above = np.where(stands, 1.2, 0.9) * x_height
    near = (top >= band.y0 - above) & (bottom <= band.y1 + below)
    letters = reaches_band & ~speck & ~cut
    capitals = letters_are_capitals(top[letters], bottom[letters], band, x_height, params)
    return ~(reaches_band | (near & ~cut)), capitals


def letters_are_capitals(
    tops: np.ndarray, bottoms: np.ndarray, band: TextBand, x_height: float, params: NormalizeParams
) -> bool:
    """Whether a line's letters (their tops and bottoms, rows level with its `band`) are
    capitals: most stand within the band, and most are as tall as the tallest. The band alone
    passed a typed line in lower case whose many ascenders it took in (an EHRI page's
    "kultusgemeinde" then read "ultusgemeinde")."""
    if tops.size < 3:
        return False
    slack = params.capital_slack * x_height
    level = (tops >= band.y0 - slack) & (bottoms <= band.y1 + slack)
    heights = bottoms - tops
    # Letters, not stops, dashes or the broken pieces of faded letters.
    heights = heights[heights >= 0.4 * x_height]
    if heights.size < 3:
        return False
    tall = heights >= 0.8 * quantile(heights, 0.9)
    return bool(level.mean() >= params.capital_share and tall.mean() >= params.capital_tall_share)


def blank_marks(ink: np.ndarray, labels: np.ndarray, which: np.ndarray) -> np.ndarray:
    """Ink with the marks `which` (per label of `labels` but the paper's) blanked, and the
    soft edge around them that fell below the ink threshold."""
    if not which.any():
        return ink
    lookup = np.concatenate([[False], which])
    mask = cv2.dilate(lookup[labels].astype(np.uint8), np.ones((3, 3), np.uint8))
    return np.where(mask > 0, 0.0, ink).astype(np.float32)


def room_for_accents(
    boxes: np.ndarray, centre: np.ndarray, band_half: float, height: int, params: NormalizeParams
) -> float:
    """Rows to add above the band (±`band_half` around `centre`, per column) so the small
    marks just over it, each over a letter, fit: the accents of capitals.

    An ALL-CAPS line's band is its capitals' height, so its accents lie above the band and
    were cut off: ÕÀ read ÖÅ, ÛÓÌ read LOT (held-out ALL-CAPS lines). A broken letter's
    piece over it (a faded capital's serif) is such a mark too. `boxes` are the
    line's own marks (x, y, width, height; x in `centre`'s columns) in an image `height`
    rows high; a mark the image's edge cuts belongs to a neighbour, and so does a rule (wider
    than a letter).
    """
    left, top, width, mark_height = (boxes[:, k].astype(np.float32) for k in range(4))
    middle = np.clip(left + width // 2, 0, len(centre) - 1).astype(np.int64)
    top_off = top - centre[middle]  # the mark's top, in rows below the centre
    bottom_off = top_off + mark_height
    mark = (
        (top > 0)
        & (top + mark_height < height)
        & (mark_height <= band_half)
        & (width <= 2.0 * band_half)
    )
    letter = (top_off <= -0.2 * band_half) & (bottom_off >= 0.2 * band_half)
    over = mark & (bottom_off <= -0.6 * band_half) & (top_off < -band_half)
    extent = 0.0
    for i in np.flatnonzero(over):
        under = letter & (left < left[i] + width[i]) & (left + width > left[i])
        gaps = top_off[under] - bottom_off[i]
        if np.any((gaps >= -0.2 * band_half) & (gaps <= params.accent_reach * band_half)):
            extent = max(extent, float(-top_off[i]))
    return min(max(0.0, extent + 0.5 - band_half), params.accent_room_max * band_half)


def flat_mark_size(
    heights: np.ndarray, widths: np.ndarray, measured_px: float, params: NormalizeParams
) -> float:
    """The x-height a line of flat marks alone stands in for (0 for any other line).

    A row of dashes, a typed rule of "=" or "_" has no x-height: its band is a few pixels
    (`measured_px`). Letters are about as wide as the x-height, so the flat marks' median
    width stands in for it; never more than a few times the band, though, or one long bar
    would vanish. Marks are given by their boxes' heights and widths.
    """
    flat = heights < params.flat_mark_aspect * widths
    if widths.size == 0 or flat.mean() < 0.8:  # capitals in a heading are not flat marks
        return 0.0
    size = params.flat_mark_share * float(np.median(widths[flat]))
    return min(size, params.flat_mark_max_growth * measured_px)


def _flat_marks_band_half(strong: np.ndarray, band_half: float, params: NormalizeParams) -> float:
    """The least band half-height for a line of flat marks alone (0 for any other line).

    Filling the output height with a row of dashes' few-pixel band turns each dash into a
    block the recognizer reads as nothing.
    """
    column_runs = true_runs(np.asarray(strong.any(axis=0)))
    ink_rows = np.count_nonzero(strong.any(axis=1))
    # A cheap test first, which almost every line fails: the ink is far lower than its
    # column runs (marks, or words whose letters overlap) are wide.
    if not column_runs or ink_rows > params.flat_mark_aspect * np.median(
        [end - start for start, end in column_runs]
    ):
        return 0.0
    _, stats, _ = label_components(strong, centroids=False)
    heights, widths = stats[1:, cv2.CC_STAT_HEIGHT], stats[1:, cv2.CC_STAT_WIDTH]
    return flat_mark_size(heights, widths, band_half, params)


def specks(stats: np.ndarray, speck_share: float = 0.2) -> np.ndarray:
    """Per mark of `stats` (OpenCV's component statistics, row 0 the paper): whether it is a
    speck, its width and height both under `speck_share` of the height of the marks that hold
    most of the ink (the letters); none where specks do not outnumber the other marks.

    On a binarized noisy scan the specks lie everywhere above and below the letters. Counted
    as strokes, they put the band's edges near the image's: with one pixel in fifty a speck
    the letters came out half their size, and where the noise outweighed the letters' own
    strokes (the letters grown into blots) the band fell on the bottom rows and the letters
    were blanked as a neighbour's.
    """
    heights = stats[1:, cv2.CC_STAT_HEIGHT]
    if heights.size == 0:
        return np.zeros(0, bool)
    order = np.argsort(heights, kind="stable")
    cumulative = np.cumsum(stats[1:, cv2.CC_STAT_AREA][order])
    letter_height = heights[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])]
    limit = speck_share * letter_height
    speck = (heights < limit) & (stats[1:, cv2.CC_STAT_WIDTH] < limit)
    # A clean line's dots, commas and i-dots are measured as they always were: only noise
    # outnumbers the letters.
    return speck if 2 * speck.sum() > speck.size else np.zeros_like(speck)


def quantile(values: np.ndarray, q: float) -> float:
    """np.quantile's default (linear) estimate, by partial sorting: a tenth of its cost on the
    thousands of stroke edges of a line. Interpolated as numpy does it, in the values' own
    precision and from the nearer side: within a float32 step of numpy's, and on 665 real
    lines the same images to the bit (the network was trained on lines scaled by it)."""
    position = q * (values.size - 1)
    low = int(position)
    high = min(low + 1, values.size - 1)
    parted = np.partition(values, [low, high])
    below, above = parted[low], parted[high]
    t = values.dtype.type(position - low)
    step = above - below
    return float(below + step * t if t < 0.5 else above - step * (1 - t))


def normalize_line(line: np.ndarray, params: NormalizeParams = NormalizeParams()) -> NormalizedLine:
    """Dewarp, scale and pad one text-line image for the recognizer."""
    ink = ink_map(np.asarray(line))
    input_width = int(ink.shape[1]) if ink.ndim == 2 else 0
    if ink.size == 0 or ink.shape[0] < 2 or ink.shape[1] < 2:
        return _blank(params, input_width)
    strong = ink > 0.5
    # The same labels and boxes as OpenCV's labelling with statistics, at a third the cost.
    labels, stats, _ = label_components(strong, centroids=False)
    speck = specks(stats)
    foreign, capitals = np.zeros(len(stats) - 1, bool), False
    if params.drop_neighbours:
        foreign, capitals = neighbour_marks(labels, stats, speck, params)
        ink = blank_marks(ink, labels, foreign)
        strong = ink > 0.5
    # On a noisy scan the band is measured on the letters' strokes; the specks stay.
    letters = strong & np.concatenate([[False], ~speck])[labels] if speck.any() else strong
    rows = np.flatnonzero(strong.any(axis=1))
    cols = np.flatnonzero(strong.any(axis=0))
    if rows.size == 0:
        return _blank(params, input_width)
    ink_height = float(rows[-1] - rows[0] + 1)
    margin = int(round(0.25 * ink_height)) + 1
    x0 = max(int(cols[0]) - margin, 0)
    x1 = min(int(cols[-1]) + 1 + margin, ink.shape[1])
    ink = ink[:, x0:x1]
    strong = strong[:, x0:x1]
    letters = letters[:, x0:x1]

    # Estimate the centre with a scale tied to the ink's height, then measure the band. Both
    # from the ink's left and right edges rather than its area: letters are mostly vertical
    # strokes, while an underline or a rule, a lot of ink in one row, has an edge at each end.
    if letters.any():
        strong = letters
    edges = np.zeros(strong.shape, bool)
    edges[:, 1:] = strong[:, 1:] != strong[:, :-1]
    if not edges.any():  # ink from edge to edge (a bar, a mount's border): no strokes to go by
        edges = strong
    centre = _centre_line(edges.astype(np.float32), ink_height)
    ys, xs = mask_points(edges)
    distances = np.abs(ys.astype(np.float32) - centre[xs])
    band_half = max(2.0, quantile(distances, params.band_quantile) + 0.5)
    band_half = max(band_half, _flat_marks_band_half(strong, band_half, params))
    # Only where the band is the capitals' height (ALL-CAPS, no ascenders or descenders out of
    # the x-height band): on a line cut from a page the marks over its letters are as often
    # the slivers of its neighbours, which the room would shrink the line for. Nor on a
    # speckled line, where clumps of noise lie over letters.
    if params.room_for_accents and capitals and not speck.any():
        boxes = stats[1:][~foreign, :4].copy()
        boxes[:, 0] -= x0
        above = room_for_accents(boxes, centre, band_half, ink.shape[0], params)
        # The band grows by the rows above; its centre moves up by half as many.
        centre = centre - np.float32(above / 2.0)
        band_half += above / 2.0
    scale = params.band_fill * params.height_px / (2.0 * band_half)

    # Resize first (area averaging when shrinking keeps thin strokes), then shift columns.
    height, width = ink.shape
    out_width = max(1, int(round(width * scale)))
    out_rows = max(1, int(round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    scaled = cv2.resize(ink, (out_width, out_rows), interpolation=interpolation)
    sx = out_width / width
    centre_scaled = (
        np.interp((np.arange(out_width) + 0.5) / sx - 0.5, np.arange(width), centre) + 0.5
    ) * (out_rows / height) - 0.5

    half = (params.height_px - 1) / 2.0
    map_x = np.broadcast_to(
        np.arange(out_width, dtype=np.float32), (params.height_px, out_width)
    ).copy()
    map_y = (centre_scaled[None, :] + (np.arange(params.height_px)[:, None] - half)).astype(
        np.float32
    )
    warped = cv2.remap(
        scaled,
        map_x,
        map_y,
        interpolation=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0.0,
    )
    image = np.zeros((params.height_px, out_width + 2 * params.pad_px), np.float32)
    # Resampling can overshoot by a rounding error; the network expects exactly 0..1.
    image[:, params.pad_px : params.pad_px + out_width] = np.clip(warped, 0.0, 1.0)
    return NormalizedLine(image, sx, x0, params.pad_px, input_width, capitals)
