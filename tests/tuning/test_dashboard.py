"""The sweep's Ray dashboard answers on 127.0.0.1, given the token."""
import ray

from tuning import dashboard


def test_dashboard_answers_on_loopback_with_the_token(ray_context):
  url = dashboard.url_of(ray_context.dashboard_url)
  assert url.startswith('http://127.0.0.1:')
  assert dashboard.authentication_mode(url) == 'token'
  status, _ = dashboard.api_get(url, '/api/version')
  assert status == 401  # Ray 2.60: token authentication by default
  token = dashboard.auth_token()
  assert token, 'no token in ~/.ray/auth_token'
  status, body = dashboard.api_get(url, '/api/version', token)
  assert status == 200
  assert body['ray_version'] == ray.__version__
  status, _ = dashboard.api_get(url, '/api/version', 'not-the-token')
  assert status == 403


def test_instructions_say_how_to_authenticate(ray_context):
  text = dashboard.instructions(dashboard.url_of(ray_context.dashboard_url))
  assert 'ray get-auth-token' in text
  assert 'Authorization: Bearer' in text
