"""HTML layout of a report page: one document (inline CSS, no external URL); scripts only where a page asks.

A page with charts loads plotly.js from a file beside it (``script_src``, relative) and may end with one
inline script (``script``); other pages carry no script at all.

>>> doc = page("Run", [section("Stats", table(["name", "value"], [["trades", "3"]], numeric=[1]))])
>>> doc.startswith("<!DOCTYPE html>"), "<td class=\\"num\\">3</td>" in doc, "http" in doc.replace("http-equiv", "")
(True, True, False)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

_CSS = """
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a202c;margin:0;background:#f7f8fa}
main{max-width:1240px;margin:0 auto;padding:18px 22px 40px}
h1{font-size:22px;margin:4px 0 2px}h2{font-size:16px;margin:0 0 8px}
.sub{color:#4a5568;margin:0 0 12px}
section{background:#fff;border:1px solid #e2e8f0;border-radius:6px;padding:14px 16px;margin:14px 0}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:3px 7px;border-bottom:1px solid #edf2f7;text-align:left;white-space:nowrap}
th{background:#f7fafc;font-weight:600;position:sticky;top:0}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.scroll{overflow:auto;max-height:520px}
.kv{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:0 24px}
.kv div{display:flex;justify-content:space-between;border-bottom:1px solid #edf2f7;padding:3px 0}
.kv span:first-child{color:#4a5568;margin-right:12px}
.kv span:last-child{font-variant-numeric:tabular-nums;text-align:right;overflow-wrap:anywhere}
code,pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace;background:#f1f5f9;border-radius:4px}
code{padding:1px 4px}pre{padding:8px 10px;overflow:auto;white-space:pre-wrap;overflow-wrap:anywhere}
.note{color:#4a5568;font-size:13px;margin:6px 0 0}
.notice{border-radius:6px;padding:10px 14px;margin:10px 0}
.notice.error{background:#fff5f5;border:1px solid #feb2b2;color:#822727}
.notice.info{background:#ebf8ff;border:1px solid #90cdf4;color:#2a4365}
.plot{margin:2px 0 8px}h3{font-size:13px;margin:10px 0 0;color:#2d3748}
svg.chart{display:block;width:100%;height:auto;font-family:inherit}
.legend{font-size:12px;color:#4a5568;margin:4px 0 8px}.legend span{margin-right:14px;white-space:nowrap}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px;vertical-align:-1px}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:0 24px}
@media (max-width:800px){.cols{grid-template-columns:1fr}}
"""


def page(title: str, sections: Sequence[str], subtitle: str = "", *, script_src: str = "", script: str = "") -> str:
    """The whole document: ``<h1>`` title, optional subtitle line, then the sections in order.

    ``script_src``: a script file (relative to the page) loaded in the head, before the sections' own
    scripts run; ``script``: JavaScript run after the last section.
    """
    sub = f'<p class="sub">{escape(subtitle)}</p>' if subtitle else ""
    head = f'<script src="{escape(script_src)}" charset="utf-8"></script>' if script_src else ""
    tail = f"<script>{script}</script>" if script else ""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f'<title>{escape(title)}</title><style>{_CSS}</style>{head}</head>'
            f'<body><main><h1>{escape(title)}</h1>{sub}{"".join(sections)}</main>{tail}</body></html>\n')


def section(title: str, body: str, note: str = "", name: str = "") -> str:
    """A titled card; ``note`` is a plain-text line under the body, ``name`` its ``id``."""
    ident = f' id="{escape(name)}"' if name else ""
    extra = f'<p class="note">{escape(note)}</p>' if note else ""
    return f"<section{ident}><h2>{escape(title)}</h2>{body}{extra}</section>"


def table(columns: Sequence[str], rows: Iterable[Sequence[str]], numeric: Iterable[int] = (),
          scroll: bool = False) -> str:
    """A table of already formatted text cells; columns in ``numeric`` are right-aligned."""
    right = set(numeric)
    cls = [' class="num"' if j in right else "" for j in range(len(columns))]
    head = "".join(f"<th{cls[j]}>{escape(c)}</th>" for j, c in enumerate(columns))
    body = "".join("<tr>" + "".join(f"<td{cls[j]}>{escape(str(v))}</td>" for j, v in enumerate(row)) + "</tr>"
                   for row in rows)
    html = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return f'<div class="scroll">{html}</div>' if scroll else html


def key_values(pairs: Iterable[tuple[str, str]]) -> str:
    """Label/value pairs in a responsive grid."""
    return '<div class="kv">' + "".join(f"<div><span>{escape(k)}</span><span>{escape(v)}</span></div>"
                                        for k, v in pairs) + "</div>"


def notice(text: str, kind: str = "info") -> str:
    """A coloured box (``kind`` ``info`` or ``error``) holding ``text``."""
    return f'<div class="notice {escape(kind)}">{escape(text)}</div>'


def code_block(text: str) -> str:
    """Preformatted text (commands, configs)."""
    return f"<pre>{escape(text)}</pre>"


def legend(items: Iterable[tuple[str, str]]) -> str:
    """Colour swatches with labels, for the chart above or below."""
    return '<div class="legend">' + "".join(f'<span><i style="background:{escape(color)}"></i>{escape(label)}</span>'
                                            for label, color in items) + "</div>"


def columns(*blocks: str) -> str:
    """Blocks side by side on wide screens, stacked on narrow ones."""
    return '<div class="cols">' + "".join(f"<div>{b}</div>" for b in blocks) + "</div>"
