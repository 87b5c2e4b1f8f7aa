"""The emulator's own exception."""


class EmuError(RuntimeError):
    """A kernel failed to compile or to run on the emu device (divergent barrier, deadlock, trap)."""


class KernelNotFoundError(KeyError):
    """`Module.get_function(name)` for a name that is not an extern "C" __global__ of the module."""

    def __str__(self):
        return str(self.args[0])
