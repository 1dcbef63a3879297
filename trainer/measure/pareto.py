"""The Pareto front of (cost, value) points; shared by reports and sweeps."""


def pareto_front(points):
  """Indices of the points that no other point beats, by increasing cost.

  Args:
    points: (cost, value) pairs, e.g. (gzip bytes, VQA accuracy); lower cost
      and higher value are better.

  Returns:
    The indices of the non-dominated points, sorted by cost. A point is
    dominated when another has no more cost and no less value, and is
    strictly better in one of them; equal points are all kept.
  """
  order = sorted(range(len(points)),
                 key=lambda i: (points[i][0], -points[i][1]))
  front = []
  for i in order:
    if not front or points[i][1] > points[front[-1]][1] or (
        points[i] == points[front[-1]]):
      front.append(i)
  return front
