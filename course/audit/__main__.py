"""python -m course.audit PATH... (the same as python -m course lint PATH...)."""
import sys

from .cli import main

sys.exit(main())
