"""netns-harness: describe network-namespace setups as scenarios, run them, judge the checks."""

__version__ = "0.1.0"
