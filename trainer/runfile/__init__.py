"""The run file: its schema and readers (`schema`), the crash-safe writer (`writer`, with the `logger` face for
user loops), the writer's lock (`lock`), the loss log (`loss_log`) and the test-only crash points (`faults`)."""
