"""Renderers for a ``Plan`` / ``ApplyResult``: terminal text, JSON, Markdown, HTML, live progress.

Imports the engine only, never Google libraries.
"""

from mlops_infra.engine.plan import set_html_renderer
from mlops_infra.report.html import render_html
from mlops_infra.report.markdown import render_markdown
from mlops_infra.report.plan_json import render_json
from mlops_infra.report.progress import ApplyProgress
from mlops_infra.report.result import render_result
from mlops_infra.report.text import render_text

set_html_renderer(render_html)   # plans render as HTML tables in Jupyter

__all__ = ["ApplyProgress", "render_html", "render_json", "render_markdown", "render_result",
           "render_text"]
