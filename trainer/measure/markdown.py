"""GitHub Markdown tables, for report.md and a sweep's results.md."""


def table_lines(headers, rows, right_aligned=()):
  """The lines of a Markdown table.

  Args:
    headers: the column names.
    rows: lists of cell strings, one per header.
    right_aligned: the headers whose cells are right-aligned (numbers).

  Returns:
    [header line, alignment line, one line per row].
  """
  align = lambda header: '---:' if header in right_aligned else '---'
  line = lambda cells: '| ' + ' | '.join(cells) + ' |'
  return ([line(headers), '|' + '|'.join(align(h) for h in headers) + '|'] +
          [line(cells) for cells in rows])
