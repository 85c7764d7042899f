"""The checks every attached file passes, whoever attaches it: the portal's forms, the API and imports."""

from pathlib import Path
from typing import Any

import filetype
from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat

# Extension -> the content type we serve it as. Binary kinds are checked by their magic bytes;
# text kinds must be UTF-8 without NUL bytes. Nothing is ever served inline as HTML.
BINARY_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".pdf": "application/pdf",
    ".zip": "application/zip",
    ".gz": "application/gzip",
}
TEXT_TYPES = {
    ".txt": "text/plain",
    ".log": "text/plain",
    ".csv": "text/csv",
    ".json": "application/json",
    ".har": "application/json",
}


def check_upload(upload: Any) -> Any:
    """Return the upload with `checked_content_type` set, or raise a ValidationError saying why not."""
    extension = Path(upload.name).suffix.lower()
    if upload.size > settings.ATTACHMENT_MAX_BYTES:
        raise ValidationError(
            f"“{upload.name}” is {filesizeformat(upload.size)}; files can be at most {filesizeformat(settings.ATTACHMENT_MAX_BYTES)}."
        )
    head = upload.read(8192)
    upload.seek(0)
    if extension in BINARY_TYPES:
        guessed = filetype.guess_mime(head)
        if guessed != BINARY_TYPES[extension]:
            raise ValidationError(f"“{upload.name}” is not really a {extension} file.")
        upload.checked_content_type = guessed
    elif extension in TEXT_TYPES:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError:
            # A multi-byte character cut at the 8 KiB boundary is fine; anything else is not text.
            try:
                head[:-4].decode("utf-8")
            except UnicodeDecodeError:
                raise ValidationError(f"“{upload.name}” is not a UTF-8 text file.") from None
        if b"\x00" in head:
            raise ValidationError(f"“{upload.name}” is not a text file.")
        upload.checked_content_type = TEXT_TYPES[extension]
    else:
        allowed = ", ".join(sorted({*BINARY_TYPES, *TEXT_TYPES}))
        raise ValidationError(f"“{upload.name}”: this kind of file is not accepted. Allowed: {allowed}.")
    return upload
