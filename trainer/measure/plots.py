"""The report's plots: VQA accuracy against size and against latency, with
the Pareto front."""
import io
import os

import numpy as np

from trainer.contract import errors
from trainer.measure import pareto
from trainer.models import model_io

SIZE_PLOT = 'accuracy_vs_size.png'
LATENCY_PLOT = 'accuracy_vs_latency.png'


def require_matplotlib():
  try:
    import matplotlib  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError as e:
    raise errors.UserError('the plots need matplotlib: pip install -e ".[report]"'
                     ) from e


# Plots.


def human_bytes(size, unused_position=None):
  """1234567 -> '1.2 MB' (a tick label)."""
  for unit in ('B', 'kB', 'MB'):
    if size < 1000:
      return f'{size:g} {unit}'
    size /= 1000
  return f'{size:g} GB'


def milliseconds(value, unused_position=None):
  return f'{value:g} ms'


def label_offsets(axes, points, near_pixels=15):
  """Text offsets (in points) that stack the names of points drawn close."""
  axes.autoscale_view()
  pixels = axes.transData.transform(points)
  offsets = []
  for i, pixel in enumerate(pixels):
    near = sum(np.hypot(*(pixel - other)) < near_pixels
               for other in pixels[:i])
    offsets.append((5, 5 - 11 * near))
  return offsets


def plot_tradeoff(table, x_column, x_label, tick_label, path):
  """VQA accuracy against `x_column` (log scale), each point named, and the
  Pareto front as a step line (the best accuracy at each cost)."""
  # pylint: disable=g-import-not-at-top
  from matplotlib import figure as figure_lib
  from matplotlib import ticker
  from matplotlib.backends import backend_agg
  # pylint: enable=g-import-not-at-top
  points = [(row[x_column], row['vqa_written']) for row in table]
  front = [points[i] for i in pareto.pareto_front(points)]
  figure = figure_lib.Figure(figsize=(7, 5), tight_layout=True)
  backend_agg.FigureCanvasAgg(figure)
  axes = figure.subplots()
  axes.scatter(*zip(*points), color='tab:gray', label='model')
  axes.step(*zip(*front), where='post', color='tab:red', label='Pareto front')
  axes.scatter(*zip(*front), color='tab:red', zorder=3)
  axes.set_xscale('log')
  for row, point, offset in zip(table, points, label_offsets(axes, points)):
    axes.annotate(row['model'], point, textcoords='offset points',
                  xytext=offset)
  axes.xaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
  axes.xaxis.set_major_formatter(ticker.FuncFormatter(tick_label))
  axes.xaxis.set_minor_formatter(ticker.NullFormatter())
  axes.set_xlabel(x_label)
  axes.set_ylabel('VQA accuracy (written questions)')
  axes.grid(True, alpha=0.3)
  axes.legend()
  buffer = io.BytesIO()
  figure.savefig(buffer, format='png', dpi=100)
  model_io.write_file(buffer.getvalue(), path)


def plot_report(table, output_dir, latency_batch):
  """Writes the two trade-off plots; returns their paths."""
  size_path = os.path.join(output_dir, SIZE_PLOT)
  latency_path = os.path.join(output_dir, LATENCY_PLOT)
  plot_tradeoff(table, 'gzip_bytes', 'gzip size (log scale)', human_bytes,
                size_path)
  plot_tradeoff(table, f'ms_per_example_b{latency_batch}',
                f'latency per example at batch {latency_batch} (log scale)',
                milliseconds, latency_path)
  return [size_path, latency_path]
