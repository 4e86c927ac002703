"""Every test runs without the compile cache unless it asks for one: tests that patch the
compiler must see it run, and no test writes `.metricspec_cache/` into a project folder.
The cache's own tests (tests/workflow/test_compile_cache.py) turn it on explicitly."""

import os

os.environ.setdefault("METRICSPEC_NO_CACHE", "1")
