"""The Ray dashboard of a sweep: where it listens, and how to get in.

Ray 2.60 protects the dashboard with token authentication by default: the
page loads, but it (and every /api/ call) needs the cluster's token, which a
local Ray keeps in ~/.ray/auth_token (`ray get-auth-token` prints it). The
browser asks for it once and keeps it in a cookie; API clients send
`Authorization: Bearer TOKEN`.
"""
import json
import os
import sys
import urllib.error
import urllib.request

from trainer.serve import hosts

TOKEN_FILE = os.path.join('~', '.ray', 'auth_token')


def exposure_warning(host):
  """The warning for a dashboard reachable beyond this machine, or ''."""
  if hosts.is_loopback(host):
    return ''
  return (f'warning: the Ray dashboard will listen on {host}, not only on '
          'this machine: anyone who reaches it and holds the token can run '
          'code on the cluster. Prefer the default 127.0.0.1 and an SSH '
          'tunnel (ssh -L 8265:127.0.0.1:8265 HOST).')


def auth_token():
  """The Ray token this process uses ($RAY_AUTH_TOKEN, its file), or ''."""
  if os.environ.get('RAY_AUTH_TOKEN'):
    return os.environ['RAY_AUTH_TOKEN'].strip()
  path = os.path.expanduser(os.environ.get('RAY_AUTH_TOKEN_PATH') or
                            TOKEN_FILE)
  if not os.path.exists(path):
    return ''
  with open(path) as f:
    return f.read().strip()


def url_of(dashboard_url):
  """'http://HOST:PORT' from Ray's 'HOST:PORT' (or an URL already)."""
  if dashboard_url.startswith(('http://', 'https://')):
    return dashboard_url.rstrip('/')
  return 'http://' + dashboard_url


def api_get(url, path, token='', timeout=10):
  """(HTTP status, JSON body or None) of GET url + path, with the token."""
  request = urllib.request.Request(url + path)
  if token:
    request.add_header('Authorization', 'Bearer ' + token)
  try:
    with urllib.request.urlopen(request, timeout=timeout) as response:
      return response.status, json.loads(response.read() or b'null')
  except urllib.error.HTTPError as e:
    return e.code, None


def authentication_mode(url):
  """'token', 'disabled' (or whatever Ray says), '' when it cannot be asked."""
  try:
    status, body = api_get(url, '/api/authentication_mode')
  except OSError:
    return ''
  return (body or {}).get('authentication_mode', '') if status == 200 else ''


def instructions(url):
  """What to print so that a user can open the dashboard."""
  lines = [f'Ray dashboard: {url}']
  mode = authentication_mode(url)
  if mode == 'token':
    lines += [
        '  token authentication is on: when the page asks, paste the token',
        '  printed by `ray get-auth-token` (kept in ~/.ray/auth_token on the',
        '  machine that started Ray); API clients send the header',
        '  "Authorization: Bearer $(ray get-auth-token)".']
  elif mode == 'disabled':
    lines.append('  token authentication is off (RAY_AUTH_MODE=disabled).')
  host = url.split('//', 1)[-1].rsplit(':', 1)[0]
  if not hosts.is_loopback(host):
    lines.append('  it listens beyond this machine: keep the token secret.')
  return '\n'.join(lines)


def print_instructions(url, file=sys.stdout):
  print(instructions(url), file=file, flush=True)
