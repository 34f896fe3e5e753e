"""The run file: its schema and readers (`schema`), the crash-safe writer (`writer`, with the `logger` face for
user loops), the writer's lock (`lock`), the loss log (`loss_log`), the test-only crash points (`faults`), and what a
run records about a model that is not ours (`records`, with the target's modes found by `frequencies` and `degrees`)."""
