"""civicloud: a community cloud for local public bodies."""

from civicloud.errors import CivicloudError

__version__ = "0.1.0"
__all__ = ["CivicloudError", "__version__"]
