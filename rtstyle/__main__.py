import sys

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C before `main` could catch it: as quiet as one later
    print("rtstyle: interrupted", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
