"""Pure IIIF Image API library: parse, resolve and canonicalise requests; build info.json.

No I/O and no framework imports. Typical use in an image server::

    request = parse_path(path)                      # ImageRequest | InfoRequest | BaseUriRequest
    resolved = resolve(request, width, height, limits)   # before decoding any pixel
    link = canonical_link_header(base_uri, resolved)
"""

from iiif.image.canonical import (
    CanonicalPath,
    canonical,
    canonical_link_header,
    canonical_uri,
)
from iiif.image.errors import (
    BadRequest,
    ImageRequestError,
    NotFound,
    NotImplemented_,
    TooLarge,
)
from iiif.image.identifier import (
    MAX_IDENTIFIER_LENGTH,
    decode_identifier,
    quote_identifier,
    validate_identifier,
)
from iiif.image.info import (
    CONTEXT_V2,
    CONTEXT_V3,
    FEATURES_V3,
    INFO_MEDIA_TYPE_V3,
    LEVEL2_FEATURES_V3,
    PROTOCOL,
    info_json,
    profile_uri,
    pyramid_sizes,
    scale_factors_for,
)
from iiif.image.request import (
    MAX_SIZE_PIXELS,
    SUPPORTED_VERSIONS,
    BaseUriRequest,
    Format,
    ImageRequest,
    InfoRequest,
    Quality,
    Region,
    RegionKind,
    Rotation,
    Size,
    SizeKind,
    parse_format,
    parse_path,
    parse_quality,
    parse_region,
    parse_rotation,
    parse_size,
)
from iiif.image.resolve import Limits, PixelRegion, ResolvedRequest, max_size, resolve

__all__ = [
    "CONTEXT_V2",
    "CONTEXT_V3",
    "FEATURES_V3",
    "INFO_MEDIA_TYPE_V3",
    "LEVEL2_FEATURES_V3",
    "MAX_IDENTIFIER_LENGTH",
    "MAX_SIZE_PIXELS",
    "PROTOCOL",
    "SUPPORTED_VERSIONS",
    "BadRequest",
    "BaseUriRequest",
    "CanonicalPath",
    "Format",
    "ImageRequest",
    "ImageRequestError",
    "InfoRequest",
    "Limits",
    "NotFound",
    "NotImplemented_",
    "PixelRegion",
    "Quality",
    "Region",
    "RegionKind",
    "ResolvedRequest",
    "Rotation",
    "Size",
    "SizeKind",
    "TooLarge",
    "canonical",
    "canonical_link_header",
    "canonical_uri",
    "decode_identifier",
    "info_json",
    "max_size",
    "parse_format",
    "parse_path",
    "parse_quality",
    "parse_region",
    "parse_rotation",
    "parse_size",
    "profile_uri",
    "pyramid_sizes",
    "quote_identifier",
    "resolve",
    "scale_factors_for",
    "validate_identifier",
]
