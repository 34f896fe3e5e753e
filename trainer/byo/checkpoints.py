"""Checkpoint folders written by other training loops: the layouts people have, and each checkpoint's step.

Two layouts are read:
- files in the folder: `*.pt`, `*.pth`, `*.bin` (torch.save), `*.ckpt` (PyTorch Lightning), `*.safetensors`.
  The step is the number after "step" in the name (`epoch=20-step=20.ckpt`, `ckpt_step100.pt`), else the last
  number in it (`ckpt_001000.pt`), or what `--step-regex` picks; a Lightning file without one in its name
  (`last.ckpt`) gives its stored `global_step`. A `last*.ckpt` that repeats another file's step is left out.
- one checkpoint per sub-folder, the Hugging Face Trainer's `checkpoint-N/`: its `model.safetensors` or
  `pytorch_model.bin`; the step from the sub-folder's name (the last number, or `--step-regex`).
Each file is read as data (trainer/byo/checkpoint_read.py), one at a time, so the memory needed does not grow
with the folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from trainer.byo.checkpoint_read import NESTED_KEYS, LoadedState, load_state, read_state  # noqa: F401 (re-exported)
from trainer.byo.state_fit import StateChecker  # noqa: F401 (re-exported)
from trainer.errors import ConfigError

SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".safetensors")
FOLDER_WEIGHTS = ("model.safetensors", "pytorch_model.bin")  # a Hugging Face Trainer checkpoint-N/ folder's weights
DEFAULT_STEP_REGEX = r"(\d+)\D*$"  # the last number in the name
STEP_WORD = re.compile(r"step[=_-]?(\d+)", re.IGNORECASE)  # Lightning's epoch=20-step=20.ckpt, ckpt_step100.pt


@dataclass(frozen=True)
class CheckpointFile:
    step: int
    path: Path
    name: str = ""  # as messages show it: the file's name, or checkpoint-20/model.safetensors

    def __post_init__(self):
        if not self.name:
            object.__setattr__(self, "name", self.path.name)


@dataclass(frozen=True)
class CheckpointListing:
    """The checkpoints in step order, the layout they were found in, and what the listing did (for the notes)."""

    files: list[CheckpointFile]
    layout: str  # "files" or "folders"
    notes: list[str] = field(default_factory=list)


def list_checkpoints(folder: Path | str, step_regex: str | None = None) -> list[CheckpointFile]:
    """The folder's checkpoints in step order; one without a step, or two with one step, is refused."""
    return find_checkpoints(folder, step_regex).files


def find_checkpoints(folder: Path | str, step_regex: str | None = None) -> CheckpointListing:
    """The folder's checkpoints in either layout (sub-folders first: a Trainer's output folder also holds the
    final model at its top, without a step), with notes saying which layout and where the steps came from."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a folder")
    try:
        pattern = re.compile(step_regex) if step_regex else None
    except re.error as err:
        raise ConfigError(f"--step-regex {step_regex!r} is not a regular expression ({err})") from None
    files = sorted(p for p in folder.iterdir() if p.suffix in SUFFIXES and p.is_file())
    sub_folders = [(d, _folder_weights(d)) for d in sorted(p for p in folder.iterdir() if p.is_dir())]
    sub_folders = [(d, weights) for d, weights in sub_folders if weights is not None]
    if sub_folders:
        return _folder_layout(sub_folders, files, pattern, step_regex)
    if not files:
        raise ConfigError(f"{folder} holds no checkpoints (files ending in {', '.join(SUFFIXES)}, or sub-folders "
                          f"holding {' or '.join(FOLDER_WEIGHTS)})")
    return _file_layout(files, pattern, step_regex)


def _folder_weights(sub_folder: Path) -> Path | None:
    """The weights file of a checkpoint-N/ folder; a sharded one (model.safetensors.index.json) is refused."""
    for name in FOLDER_WEIGHTS:
        if (sub_folder / name).is_file():
            return sub_folder / name
    for index in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        if (sub_folder / index).is_file():
            raise ConfigError(f"{sub_folder.name}/{index}: the weights are sharded over several files; import reads "
                              f"one file per checkpoint ({' or '.join(FOLDER_WEIGHTS)})")
    return None


def _folder_layout(sub_folders, files, pattern, step_regex) -> CheckpointListing:
    items = [CheckpointFile(_step_in_name(d.name, pattern, step_regex, "folder"), w, f"{d.name}/{w.name}")
             for d, w in sub_folders]
    notes = [f"one checkpoint per sub-folder (Hugging Face Trainer layout: {items[0].name}), the step from the "
             "folder's name"]
    if files:
        notes.append(f"files at the top left out ({', '.join(p.name for p in files[:3])}"
                     f"{', ...' if len(files) > 3 else ''})")
    return CheckpointListing(_in_step_order(items), "folders", notes)


def _file_layout(files: list[Path], pattern, step_regex) -> CheckpointListing:
    items, from_file = [], []
    for path in files:
        step = _lightning_step(path) if pattern is None and path.suffix == ".ckpt" else None
        if step is None:
            step = _step_in_name(path.name, pattern, step_regex, "file")
        else:
            from_file.append(path.name)
        items.append(CheckpointFile(step, path))
    items, notes = _drop_repeated_last(items)
    kinds = sorted({p.suffix for p in files})
    notes.insert(0, f"{len(files)} checkpoint files ({', '.join(kinds)})" + (
        f", steps of {', '.join(from_file[:3])} from their global_step" if from_file else ""))
    return CheckpointListing(_in_step_order(items), "files", notes)


def _lightning_step(path: Path) -> int | None:
    """The global_step stored in a Lightning file whose name has no step (last.ckpt, epoch=3.ckpt)."""
    if STEP_WORD.search(path.name):
        return None
    return load_state(path).global_step


def _step_in_name(name: str, pattern: re.Pattern | None, step_regex: str | None, what: str) -> int:
    text = None
    if pattern is not None:
        match = pattern.search(name)
        if match:
            text = match.group("step") if "step" in pattern.groupindex else match.group(1 if pattern.groups else 0)
    else:
        match = STEP_WORD.search(name) or re.search(DEFAULT_STEP_REGEX, name)
        text = match.group(1) if match else None
    if text is None or not text.isdigit():
        how = f"--step-regex {step_regex!r}" if step_regex else f"no number in the {what} name"
        raise ConfigError(f"{name}: no step found ({how}); name {what}s like ckpt_001000.pt, epoch=3-step=1000.ckpt "
                          f"or checkpoint-1000/, or pass --step-regex with one group around the step, e.g. "
                          f"'step=(\\d+)'")
    return int(text)


def _drop_repeated_last(items: list[CheckpointFile]) -> tuple[list[CheckpointFile], list[str]]:
    """Lightning's last.ckpt repeats the newest checkpoint: left out where another file holds its step."""
    steps = [item.step for item in items]
    kept, notes = [], []
    for item in items:
        repeated = item.path.name.startswith("last") and steps.count(item.step) > 1
        if repeated:
            notes.append(f"{item.name} left out (another file holds its step {item.step})")
        else:
            kept.append(item)
    return kept, notes


def _in_step_order(items: list[CheckpointFile]) -> list[CheckpointFile]:
    by_step: dict[int, CheckpointFile] = {}
    for item in items:
        if item.step in by_step:
            raise ConfigError(f"{by_step[item.step].name} and {item.name} both hold step {item.step}")
        by_step[item.step] = item
    return [by_step[step] for step in sorted(by_step)]
