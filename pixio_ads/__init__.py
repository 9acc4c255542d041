"""pixio-ads: campaign spreadsheets in, ad creatives and a Parquet manifest out."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pixio-ads")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+local"
