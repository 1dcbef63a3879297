"""Which hosts a local server may listen on without a warning."""
import ipaddress


def is_loopback(host):
  """True for 127.0.0.0/8, ::1 and localhost."""
  if host == 'localhost':
    return True
  try:
    return ipaddress.ip_address(host).is_loopback
  except ValueError:
    return False  # a host name: it may resolve to anything
