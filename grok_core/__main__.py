"""`python -m grok_core ...`: see grok_core/cli.py."""

from .cli import main

raise SystemExit(main())
