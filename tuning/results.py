"""A finished sweep as files: a table of all trials (CSV + Markdown), a plot,
and the best configuration as a config file that `vqa distill` / `vqa prune`
read with --config.

Status of a trial: 'completed' (the trainer returned and its final summary
was reported), 'stopped early' (ASHA ended it at a rung: its accuracy is the
last epoch's), 'error', or 'not finished' (the sweep was interrupted before
the trial ended; `--resume` runs it).
"""
import dataclasses
import io
import json
import os

import matplotlib.colors
import matplotlib.figure
import matplotlib.ticker
import numpy as np
import pandas as pd
from ray import tune

from trainer.contract import errors
from trainer.models import model_io
from trainer.measure import markdown
from trainer.measure import pareto
from tuning import reporting

COMPLETED = 'completed'
STOPPED = 'stopped early'
ERROR = 'error'
UNFINISHED = 'not finished'

ACCURACY = reporting.METRIC
SIZE = 'gzip_bytes'
RESULT_COLUMNS = (ACCURACY, 'best_epoch_' + ACCURACY, 'epochs', 'seconds',
                  'gzip_bytes', 'raw_bytes', 'sparsity', 'parameters')
TABLE_CSV = 'results.csv'
TABLE_MARKDOWN = 'results.md'
PLOT = 'results.png'
BEST_CONFIG = 'best_config.json'


# --- the table --------------------------------------------------------------

def trial_status(result, ray_status):
  """Our status of a trial, from its results and Ray's status of it."""
  if result.error is not None or ray_status == 'ERROR':
    return ERROR
  if (result.metrics or {}).get(reporting.FINAL):
    return COMPLETED
  return STOPPED if ray_status == 'TERMINATED' else UNFINISHED


def ray_trials(result_grid):
  """{trial directory name: Ray's Trial} of the grid's experiment.

  A ResultGrid has no trial status (ASHA-stopped and finished trials are
  both TERMINATED; an interrupted sweep leaves PENDING or PAUSED ones), nor
  the config of a trial that never reported: the experiment state has both.
  """
  analysis = tune.ExperimentAnalysis(result_grid.experiment_path,
                                     storage_filesystem=result_grid.filesystem)
  return {os.path.basename(trial.path.rstrip('/')): trial
          for trial in analysis.trials}


def _best_epoch_accuracy(result):
  history = result.metrics_dataframe
  if history is None or ACCURACY not in history:
    return np.nan
  return float(history[ACCURACY].max())


def trial_row(result, trial, parameter_names, default_point=None):
  """One table row: the trial's parameters, status and last metrics."""
  metrics = result.metrics or {}
  config = result.config or trial.config
  row = {'trial': trial.trial_id, 'status': trial_status(result,
                                                           trial.status)}
  row.update({name: config.get(name) for name in parameter_names})
  if default_point is not None:
    row['hand_picked'] = all(config.get(name) == value
                             for name, value in default_point.items())
  row.update({
      ACCURACY: metrics.get(ACCURACY, np.nan),
      'best_epoch_' + ACCURACY: _best_epoch_accuracy(result),
      'epochs': metrics.get(reporting.TIME_ATTR, 0),
      'seconds': metrics.get('time_total_s', np.nan),
  })
  for name in ('gzip_bytes', 'raw_bytes', 'sparsity', 'parameters'):
    if name in metrics:
      row[name] = metrics[name]
  row['path'] = result.path
  return row


def trial_table(result_grid, parameter_names, default_point=None):
  """All trials of a ResultGrid, best accuracy first."""
  trials = ray_trials(result_grid)
  rows = [trial_row(result, trials[os.path.basename(result.path.rstrip('/'))],
                    parameter_names, default_point)
          for result in result_grid]
  table = pd.DataFrame(rows)
  return table.sort_values(ACCURACY, ascending=False,
                           na_position='last').reset_index(drop=True)


def pareto_front(table, accuracy=ACCURACY, size=SIZE):
  """Boolean mask: completed trials no other beats on both accuracy and size.

  A trial is dominated when another one is at least as accurate and at most
  as large, and strictly better on one of the two (trainer.measure.pareto).
  """
  candidates = table[(table['status'] == COMPLETED) & table[size].notna() &
                     table[accuracy].notna()]
  points = list(zip(candidates[size], candidates[accuracy]))
  mask = pd.Series(False, index=table.index)
  mask[candidates.index[pareto.pareto_front(points)]] = True
  return mask


def best_distill_row(table):
  """The most accurate completed trial (any trial if none completed)."""
  completed = table[table['status'] == COMPLETED]
  rows = completed if len(completed) else table
  if rows[ACCURACY].isna().all():
    raise errors.UserError('no trial of the sweep reported an accuracy yet')
  return rows.loc[rows[ACCURACY].idxmax()]


def best_prune_row(table, tolerance):
  """The smallest Pareto-front model within `tolerance` of the top accuracy.

  Pruning trades accuracy for size, so "best" is a choice on the front:
  the smallest gzip size among completed trials whose accuracy is at most
  `tolerance` (absolute) below the most accurate one's.
  """
  front = table[pareto_front(table)]
  if not len(front):
    return best_distill_row(table)
  good = front[front[ACCURACY] >= front[ACCURACY].max() - tolerance]
  return good.loc[good[SIZE].idxmin()]


def to_markdown(table, columns):
  """A GitHub Markdown table of `columns` (fractions to 4 places)."""

  def cell(value):
    if isinstance(value, (bool, np.bool_)):
      return 'yes' if value else ''
    if isinstance(value, (float, np.floating)):
      if np.isnan(value):
        return ''
      return str(int(value)) if float(value).is_integer() else f'{value:.4f}'
    return str(value)

  lines = markdown.table_lines(
      list(columns),
      [[cell(row[c]) for c in columns] for _, row in table.iterrows()])
  return '\n'.join(lines) + '\n'


def table_columns(table, parameter_names):
  """The columns shown in Markdown: no paths, only what the sweep has."""
  columns = ['trial', 'status'] + list(parameter_names)
  columns += [c for c in ('hand_picked', 'pareto') if c in table]
  columns += [c for c in RESULT_COLUMNS if c in table]
  return columns


# --- plots ------------------------------------------------------------------

def _markers(ax, table, x, y, color, norm, label_stopped=True):
  """Completed trials as dots, early-stopped ones as crosses."""
  scatter = None
  for status, marker in ((COMPLETED, 'o'), (STOPPED, 'x')):
    rows = table[table['status'] == status]
    if len(rows):
      scatter = ax.scatter(rows[x], rows[y], c=rows[color], cmap='viridis',
                           norm=norm, marker=marker, s=50,
                           label=(status if label_stopped else None))
  return scatter


def plot_distill(table, best):
  """PNG bytes: accuracy vs temperature (colour: alpha) and vs alpha."""
  # A Figure of its own (no pyplot): no global backend, nothing to close.
  figure = matplotlib.figure.Figure(figsize=(11, 4.5))
  left, right = figure.subplots(1, 2)
  alpha_norm = matplotlib.colors.Normalize(0, 1)
  temperature_norm = matplotlib.colors.LogNorm(1, 30)
  scatter = _markers(left, table, 'temperature', ACCURACY, 'alpha',
                     alpha_norm)
  left.set_xscale('log')
  left.set_xlim(0.9, 33)  # the searched ranges, whatever was sampled
  left.set_xticks([1, 2, 4, 8, 16, 30])
  left.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
  left.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
  left.set_xlabel('temperature')
  if scatter is not None:
    figure.colorbar(scatter, ax=left, label='alpha')
  scatter = _markers(right, table, 'alpha', ACCURACY, 'temperature',
                     temperature_norm, label_stopped=False)
  right.set_xlim(-0.05, 1.05)
  right.set_xlabel('alpha (weight of the VQA-target loss)')
  if scatter is not None:
    figure.colorbar(scatter, ax=right, label='temperature')
  for ax, x in ((left, 'temperature'), (right, 'alpha')):
    ax.scatter([best[x]], [best[ACCURACY]], marker='*', s=250,
               facecolors='none', edgecolors='red', label='best')
    ax.set_ylabel('validation VQA accuracy')
    ax.grid(alpha=0.3)
  figure.suptitle('Distillation sweep (x: stopped early by ASHA, last '
                  'epoch\'s accuracy)')
  figure.legend(*left.get_legend_handles_labels(), loc='lower center',
                ncol=3, fontsize=8)
  figure.tight_layout(rect=(0, 0.07, 1, 1))
  return _png(figure)


def plot_prune(table, best):
  """PNG bytes: accuracy vs gzip size, the Pareto front drawn through."""
  figure = matplotlib.figure.Figure(figsize=(7, 4.5))
  ax = figure.subplots()
  sized = table[table[SIZE].notna()] if SIZE in table else table.iloc[:0]
  kilobytes = sized.assign(gzip_kb=sized[SIZE] / 1024)
  scatter = _markers(ax, kilobytes, 'gzip_kb', ACCURACY, 'final_sparsity',
                     matplotlib.colors.Normalize(0.5, 0.95))
  if scatter is not None:
    figure.colorbar(scatter, ax=ax, label='final sparsity (target)')
  front = kilobytes[kilobytes['pareto']].sort_values('gzip_kb')
  ax.step(front['gzip_kb'], front[ACCURACY], where='post', color='red',
          marker='o', markersize=11, markerfacecolor='none',
          label='Pareto front')
  if SIZE in best and not pd.isna(best[SIZE]):
    ax.scatter([best[SIZE] / 1024], [best[ACCURACY]], marker='*', s=250,
               facecolors='none', edgecolors='red', label='chosen')
  ax.set_xlabel('gzip size of the stripped weights (KiB)')
  ax.set_ylabel('validation VQA accuracy')
  ax.grid(alpha=0.3)
  ax.legend(loc='best', fontsize=8)
  ax.set_title('Pruning sweep: accuracy vs size (completed trials; those '
               'stopped early have no size)', fontsize=10)
  figure.tight_layout()
  return _png(figure)


def _png(figure):
  buffer = io.BytesIO()
  figure.savefig(buffer, format='png', dpi=110)
  return buffer.getvalue()


# --- files ------------------------------------------------------------------

def runnable_config(config):
  """A trial's config as a file for `vqa distill|prune --config`.

  The output is left to the command line; a full run exports and reports
  progress, as the commands do by default.
  """
  fields = dataclasses.asdict(dataclasses.replace(config, output='',
                                                  export=True, verbose=-1))
  del fields['output']
  return fields


def write_results(table, parameter_names, best_config, plot_png, output):
  """Writes the table (CSV, Markdown), the plot and the best config.

  Returns:
    {'csv', 'markdown', 'plot', 'best_config'}: the paths written.
  """
  paths = {'csv': os.path.join(output, TABLE_CSV),
           'markdown': os.path.join(output, TABLE_MARKDOWN),
           'plot': os.path.join(output, PLOT),
           'best_config': os.path.join(output, BEST_CONFIG)}
  model_io.write_file(table.to_csv(index=False), paths['csv'])
  model_io.write_file(
      to_markdown(table, table_columns(table, parameter_names)),
      paths['markdown'])
  model_io.write_file(plot_png, paths['plot'])
  model_io.write_file(
      json.dumps(runnable_config(best_config), indent=2, sort_keys=True,
                 default=list) + '\n', paths['best_config'])
  return paths
