"""Bring your own model: checkpoint folders (`checkpoints`, `checkpoint_read`, `state_fit`) and `train import`
(`importer`). What such a run records is trainer/runfile/records.py; its constructor is trainer/constructor.py."""
