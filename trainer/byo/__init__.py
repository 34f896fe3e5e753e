"""Bring your own model: what a run records about a foreign model (`records`), constructors named
"package.module:callable" (`constructor`), checkpoint folders (`checkpoints`) and `train import` (`importer`)."""
