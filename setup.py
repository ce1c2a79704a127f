"""The one compiled part of cecli, built by setuptools from pyproject.toml's settings.

``cecli._fastcsv`` reads plain all-number CSV blocks (see its source).  It is optional: where
no C compiler is found the build skips it and cecli reads every block with polars, with the
same results, more slowly.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("cecli._fastcsv", ["cecli/_fastcsv.c"], optional=True)])
