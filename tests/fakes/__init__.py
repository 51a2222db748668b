"""In-memory fakes of the services' ports (chalicelib/transfer/ports.py, the dispatcher's
Protocols), for unit tests that run without any emulator. The contract suite
(tests/functional/test_task_store_contract.py) runs the same tests against
:class:`~tests.fakes.tasks.FakeTasks` and the DynamoDB implementation, so the fake cannot
drift from it."""
