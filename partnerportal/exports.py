"""CSV downloads: streamed, with a file name, and cells a spreadsheet never runs as a formula."""

import csv

from django.http import StreamingHttpResponse


def spreadsheet_safe(text) -> str:
    """Return `text` with a leading quote when Excel or Sheets would read it as a formula."""
    text = "" if text is None else str(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Echo:
    def write(self, value):
        return value


def csv_response(filename: str, header: list[str], rows) -> StreamingHttpResponse:
    """Return a CSV attachment of `rows` under `header`, streamed; every text cell made spreadsheet-safe."""
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([cell if isinstance(cell, int | float) else spreadsheet_safe(cell) for cell in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
