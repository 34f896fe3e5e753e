"""The target frequencies of a run we did not make: given ones checked against the eval grid, or every DFT peak
of y_eval detected; the grid is x_eval, or the coordinate the target lives on (`coords`) when the model's input is
an encoding of it.

Detection keeps every DFT bin of y_eval (DC and Nyquist left out) whose amplitude is at least DETECT_FRACTION of
the largest. A sine on the grid puts its amplitude in one bin and (to rounding) nothing in the others, so equal
sines in adjacent bins (1, 2, ..., 10 Hz) are each a bin of the same height: all are kept, where a rule of strict
local maxima kept whichever rounding noise made highest. Nothing is capped unless asked (`max_freqs`), and the
target record says how the frequencies were found (`freqs_detection`).
"""

from __future__ import annotations

import numpy as np

from trainer.errors import ConfigError

DETECT_FRACTION = 0.1  # a DFT bin of y_eval is a target frequency if its amplitude is >= this x the largest
DETECT_RTOL = 1e-4  # ... allowing for rounding: y_eval stored in float32 moves a bin by ~1e-7 of the largest
NOISE_FLOOR = 64  # a largest bin under NOISE_FLOOR x eps x sqrt(G) x max|y| is rounding noise: no frequency
SNAP_BINS = 1e-3  # a given frequency this close to a DFT bin (in bins) is that bin's frequency, rounded as typed


def detect_freqs(x_eval: np.ndarray, y_eval: np.ndarray, max_freqs: int | None = None) -> list[float]:
    """Every DFT peak of y_eval at >= DETECT_FRACTION of the largest on a uniform 1-D grid, in Hz (the `max_freqs`
    largest when given); [] for other grids."""
    return detect(x_eval, y_eval, max_freqs)[0]


def detect(x_eval: np.ndarray, y_eval: np.ndarray, max_freqs: int | None = None) -> tuple[list[float], dict]:
    """(frequencies in Hz, the record of how they were found: method, threshold, limit, what the limit left out)."""
    record = {"method": "dft_bins_above_fraction", "min_fraction": DETECT_FRACTION, "max_freqs": max_freqs,
              "left_out_hz": []}
    if x_eval.shape[1] != 1 or y_eval.shape[1] != 1 or len(x_eval) < 4:
        return [], record
    length = uniform_grid_length(x_eval[:, 0])
    if length is None:
        return [], record
    y = y_eval[:, 0].astype(np.float64)
    amplitude = np.abs(np.fft.rfft(y))
    inner = np.arange(1, (len(y) - 1) // 2 + 1)  # below Nyquist
    eps = np.finfo(x_eval.dtype if x_eval.dtype.kind == "f" else np.float64).eps
    if len(inner) == 0 or amplitude[inner].max() <= NOISE_FLOOR * eps * np.sqrt(len(y)) * np.abs(y).max():
        return [], record
    largest = amplitude[inner].max()
    bins = inner[amplitude[inner] >= DETECT_FRACTION * largest * (1 - DETECT_RTOL)]
    if max_freqs is not None and len(bins) > max_freqs:
        order = np.argsort(-amplitude[bins], kind="stable")
        record["left_out_hz"] = [float(k / length) for k in np.sort(bins[order[max_freqs:]])]
        bins = np.sort(bins[order[:max_freqs]])
    return [float(k / length) for k in bins], record


def detection_text(target: dict) -> str:
    """A run's target frequencies and how they were found: '5, 10, ... Hz (detected on coords: every DFT bin of
    y_eval at >= 10% of the largest)', or its degrees on sphere coords; 'none (why)' when it has none."""
    freqs = target.get("freqs_hz") or []
    if target.get("kind") == "imported" and target.get("degrees"):
        return f"degrees {', '.join(str(d) for d in target['degrees'])} ({method_text(target)})"
    if not freqs:
        return f"none ({target.get('freqs_note') or 'none found'})"
    return f"{', '.join(f'{f:g}' for f in freqs)} Hz ({method_text(target)})"


def method_text(target: dict) -> str:
    """How a run's target frequencies were found: 'detected on x_eval: every DFT bin of y_eval at >= 10% of the
    largest' (and what a limit left out), 'given', or 'the run's target' (runs of `train run`)."""
    source = target.get("freqs_source")
    if source == "detected" and (target.get("freqs_detection") or {}).get("method") == "harmonic_degrees_above_fraction":
        how = target["freqs_detection"]
        return (f"detected on sphere coords: every spherical-harmonic degree 1..{how.get('max_degree')} of y_eval "
                f"with a norm >= {how.get('min_fraction', DETECT_FRACTION):.0%} of the largest")
    if source == "detected":
        how = target.get("freqs_detection") or {}
        on = "coords" if target.get("coords") else "x_eval"
        text = (f"detected on {on}: every DFT bin of y_eval at >= {how.get('min_fraction', DETECT_FRACTION):.0%} of "
                "the largest")
        left_out = how.get("left_out_hz") or []
        if left_out:
            text += (f"; limited to the {how.get('max_freqs')} largest, left out "
                     f"{', '.join(f'{f:g}' for f in left_out)} Hz")
        elif not how:  # written before the record existed: the 8 largest local maxima
            text = f"detected on {on} (DFT peaks of y_eval, before every peak was kept)"
        return text
    return "given" if source == "given" else "the run's target"


def none_found_note(grid: np.ndarray, has_coords: bool) -> str:
    """Why no frequency was detected on `grid`, and how to give them."""
    if grid.shape[1] != 1 and not has_coords:
        return (f"x_eval is {grid.shape[1]}-D: give the 1-D coordinate the target lives on (coords) or the "
                "frequencies")
    if grid.shape[1] != 1:
        return f"coords are {grid.shape[1]}-D: Fourier frequencies need a 1-D coordinate; give the frequencies"
    if uniform_grid_length(grid[:, 0]) is None:
        return f"{'coords are' if has_coords else 'x_eval is'} not a uniform grid: give the frequencies"
    return "y_eval has no DFT peak"


def check_freqs_on_grid(freqs: list[float], x_eval: np.ndarray) -> list[float]:
    """The target frequencies on the bins of a uniform 1-D eval grid (snapped when within SNAP_BINS of one);
    refused when the spectrum could not track them: between bins or at/above Nyquist (the analyzer's rule,
    checked before anything is written), with the likely fix. Other grids: returned as given. The message names
    no option: it serves `train import --freqs` and `RunWriter.for_model(target_freqs_hz=...)` alike."""
    if x_eval.shape[1] != 1 or len(x_eval) < 4:
        return freqs
    length = uniform_grid_length(x_eval[:, 0])
    if length is None:
        return freqs
    n_grid = len(x_eval)
    bins = np.asarray(freqs) * length
    off_bin = np.abs(bins - np.rint(bins)) > SNAP_BINS
    too_high = np.rint(bins) >= n_grid / 2
    if not (off_bin.any() or too_high.any()):
        return [float(k / length) for k in np.rint(bins)]
    grid = (f"the eval grid: {n_grid} points over a period of {length:g} (bins every {1 / length:g} Hz, Nyquist "
            f"{n_grid / 2 / length:g} Hz)")
    angular = np.asarray(freqs) / (2 * np.pi) * length
    angular_ok = np.all(np.rint(angular) > 0) and np.all(np.rint(angular) < n_grid / 2)
    if angular_ok and np.all(np.abs(angular - np.rint(angular)) < 0.01):
        hint = ("they look like angular frequencies (rad per unit of x); in Hz (cycles per unit of x) they are "
                f"{', '.join(f'{k / length:.12g}' for k in np.rint(angular))}")
    elif too_high.any():
        hint = f"{freqs[int(np.argmax(too_high))]:g} Hz is at or above Nyquist"
    else:
        nearest = ", ".join(f"{max(k, 1) / length:.12g}" for k in np.rint(bins))
        hint = f"the nearest bins are {nearest} Hz"
    raise ConfigError(f"target frequencies {', '.join(f'{f:g}' for f in freqs)} Hz cannot be tracked on {grid}: "
                      f"{hint}")


def uniform_grid_length(x: np.ndarray) -> float | None:
    """G * dx of a uniform grid, rounded as analyzer.spectrum rounds it (so detected peaks fall on its
    bins); None when the grid is not uniform."""
    eps = np.finfo(x.dtype).eps if x.dtype.kind == "f" else np.finfo(np.float64).eps
    x = x.astype(np.float64)
    dx = (x[-1] - x[0]) / (len(x) - 1)
    if not dx > 0 or np.max(np.abs(np.diff(x) - dx)) > 1e-3 * dx + 8 * eps * np.max(np.abs(x)):
        return None
    digits = max(1, int(-np.log10(eps)) - 1)
    return float(f"{dx * len(x):.{digits}g}")
