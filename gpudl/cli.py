"""The `gpudl` command line: `gpudl info` (more subcommands arrive with the training loop)."""
import argparse
import platform
import sys

import numpy as np


def info():
    """Versions and devices, and why cuda is unavailable when it is."""
    import gpudl
    print(f"gpudl {gpudl.__version__}  python {platform.python_version()}  numpy {np.__version__}")
    try:
        import cupy
        print(f"cupy {cupy.__version__}")
    except ImportError:
        print("cupy not installed")
    print(f"default device: {gpudl.get_default_device()}")
    if gpudl.cuda.is_available():
        print(f"cuda: {gpudl.cuda.device_count()} device(s)")
    else:
        print(f"cuda unavailable: {gpudl.cuda.why_unavailable()}")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="gpudl", description="gpudl command line")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="print versions, devices and why cuda is unavailable")
    args = parser.parse_args(argv)
    if args.command == "info":
        info()
    return 0


if __name__ == "__main__":
    sys.exit(main())
