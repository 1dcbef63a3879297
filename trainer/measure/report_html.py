"""report.html: the comparison report as one self-contained page.

The tables, the trade-off plots and a few example questions (image, ground
truth, each model's answers) in a single file: images are embedded as base64
data URIs and the style is inline, so the page opens offline and can be sent
as one attachment. When the rows carry an image-branch check (columns named
vqa_shuffled*: accuracy with every image swapped for another question's), it
gets its own table.
"""
import base64
import html
import os

import tensorflow as tf

from trainer.models import model_io

HTML_FILE = 'report.html'
IMAGE_CHECK_PREFIX = 'vqa_shuffled'

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 1200px;
       color: #222; padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0; }
th, td { border: 1px solid #d5d9e0; padding: 0.25rem 0.5rem; }
th { background: #eef1f6; } td.number { text-align: right;
  font-variant-numeric: tabular-nums; }
tr.baseline td { background: #fffbe6; }
td:first-child { white-space: nowrap; }
.scroll { overflow-x: auto; }
.plots { display: flex; flex-wrap: wrap; gap: 1rem; }
.plots figure { margin: 0; } .plots img { max-width: 560px; width: 100%; }
.example { display: flex; gap: 1rem; align-items: flex-start; margin: 1rem 0;
           border-top: 1px solid #e5e8ee; padding-top: 1rem; }
.example img { width: 128px; height: 128px; image-rendering: pixelated;
               border-radius: 4px; }
.legend { font-size: 0.85rem; color: #555; }
.correct { color: #2f7d4b; font-weight: 600; }
"""


def data_uri(data, media_type):
  return (f'data:{media_type};base64,' +
          base64.b64encode(data).decode('ascii'))


def _read_bytes(path):
  with tf.io.gfile.GFile(path, 'rb') as f:
    return f.read()


def _cell(value, number_format):
  if value is None:
    return '<td>-</td>'
  if number_format:
    text = html.escape(format(value, number_format))
    return f'<td class="number">{text}</td>'
  return f'<td>{html.escape(str(value))}</td>'


def html_table(rows, columns, baseline=None):
  """A <table> of `rows` (dicts) with tables.Column-like `columns`."""
  header = ''.join(f'<th title="{html.escape(c.description)}">'
                   f'{html.escape(c.name)}</th>' for c in columns)
  lines = ['<div class="scroll"><table>', f'<tr>{header}</tr>']
  for row in rows:
    marker = ' class="baseline"' if row.get('model') == baseline else ''
    cells = ''.join(_cell(row.get(c.name), c.format) for c in columns)
    lines.append(f'<tr data-model="{html.escape(str(row.get("model")))}"'
                 f'{marker}>{cells}</tr>')
  lines.append('</table></div>')
  return '\n'.join(lines)


def image_check_columns(rows):
  """The vqa_shuffled* columns any row holds a figure for, in row order."""
  names = []
  for row in rows:
    names += [name for name, value in row.items()
              if name.startswith(IMAGE_CHECK_PREFIX) and value is not None
              and name not in names]
  return names


def image_check_section(rows):
  """The image-branch check table, or '' when the rows have no such column."""
  names = image_check_columns(rows)
  if not names:
    return ''
  lines = ['<h2 id="image-check">Image-branch check</h2>',
           '<p class="legend">VQA accuracy with each image swapped for another '
           'question\'s: a model that looks at the image loses accuracy; one '
           'that answers from the question alone does not.</p>',
           '<div class="scroll"><table><tr><th>model</th><th>vqa_written</th>' +
           ''.join(f'<th>{html.escape(n)}</th><th>drop</th>' for n in names) +
           '</tr>']
  for row in rows:
    cells = _cell(row.get('vqa_written'), '.4f')
    for name in names:
      value, written = row.get(name), row.get('vqa_written')
      drop = (written - value if value is not None and written is not None
              else None)
      cells += _cell(value, '.4f') + _cell(drop, '+.4f')
    lines.append(f'<tr data-model="{html.escape(str(row["model"]))}">'
                 f'<td>{html.escape(str(row["model"]))}</td>{cells}</tr>')
  lines.append('</table></div>')
  return '\n'.join(lines)


def plots_section(plot_paths):
  figures = ''.join(
      f'<figure><img alt="{html.escape(os.path.basename(path))}" '
      f'src="{data_uri(_read_bytes(path), "image/png")}"></figure>'
      for path in plot_paths)
  return ('<h2>Accuracy against size and latency</h2>'
          '<p class="legend">Red: the Pareto front (the best accuracy at each '
          f'cost).</p><div class="plots">{figures}</div>')


def _answers_cell(answers, truth):
  items = []
  for answer, probability in answers:
    text = f'{html.escape(answer)} ({probability:.1%})'
    items.append(f'<span class="correct">{text}</span>' if answer in truth
                 else text)
  return '<td>' + '<br>'.join(items) + '</td>'


def example_section(examples, images):
  """Each example question: its image, ground truth and every model's answers.

  Args:
    examples: report['examples'] entries: question, answers (human) and
      model_answers, [{model, answers: [(answer, probability)]}] in order.
    images: the JPEG bytes of each example's image, in the same order.
  """
  if not examples:
    return ''
  lines = ['<h2>Example questions</h2>',
           '<p class="legend">The first questions of the split; each model\'s '
           'top answers, those a human gave in green.</p>']
  for example, jpeg in zip(examples, images):
    truth = set(example['answers'])
    rows = ''.join(
        f'<tr data-model="{html.escape(entry["model"])}">'
        f'<td>{html.escape(entry["model"])}</td>'
        f'{_answers_cell(entry["answers"], truth)}</tr>'
        for entry in example['model_answers'])
    human = ', '.join(sorted(truth)) or 'not annotated'
    lines.append(
        f'<div class="example"><img alt="image {example["image_id"]}" '
        f'src="{data_uri(jpeg, "image/jpeg")}"><div>'
        f'<b>{html.escape(example["question"])}</b> '
        f'<span class="legend">(question {example["question_id"]}; humans: '
        f'{html.escape(human)})</span>'
        f'<table><tr><th>model</th><th>answers</th></tr>{rows}</table>'
        '</div></div>')
  return '\n'.join(lines)


def legend(columns):
  items = ''.join(f'<li><code>{html.escape(c.name)}</code>: '
                  f'{html.escape(c.description)}</li>' for c in columns)
  return f'<details><summary>Columns</summary><ul class="legend">{items}</ul>' \
         '</details>'


def format_html(report, figure_columns, ratio_columns, plot_paths,
                example_images):
  """The page's text.

  Args:
    report: what report.make_report builds (config, machine, models...).
    figure_columns: tables.Column of the measured figures, in table order.
    ratio_columns: tables.Column of the ratios (the model column first).
    plot_paths: PNG files to embed.
    example_images: JPEG bytes of each of report['examples'].
  """
  config = report['config']
  title = f'Model report: {config["split"]} of {config["data"]}'
  body = [
      f'<h1>{html.escape(title)}</h1>',
      f'<p class="legend">Measured on {html.escape(report["machine"])}; '
      f'latency: mean of {config["latency_repeats"]} calls after one '
      'warm-up.</p>',
      '<h2>Figures</h2>',
      html_table(report['models'], figure_columns, report['baseline']),
      legend(figure_columns),
      f'<h2>Relative to the baseline, {html.escape(report["baseline"])}</h2>',
      html_table(report['models'], ratio_columns, report['baseline']),
      legend(ratio_columns[1:]),
      image_check_section(report['models']),
      plots_section(plot_paths),
      example_section(report.get('examples', []), example_images),
  ]
  return ('<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
          f'<title>{html.escape(title)}</title><style>{STYLE}</style></head>'
          '<body>\n' + '\n'.join(part for part in body if part) +
          '\n</body></html>\n')


def write_html(report, output_dir, figure_columns, ratio_columns, plot_paths,
               example_images):
  """Writes REPORT_DIR/report.html; returns its path."""
  path = os.path.join(output_dir, HTML_FILE)
  model_io.write_file(format_html(report, figure_columns, ratio_columns,
                                  plot_paths, example_images).encode(), path)
  return path
