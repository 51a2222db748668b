"""The emulator shim lives with the local runtime; tests use the same one."""

from local_runtime.emulator.server import faithful_emulator, start_emulator

__all__ = ["faithful_emulator", "start_emulator"]
