"""A real browser (Debian's Chromium, headless, driven by Selenium) asks the
`vqa serve` page a question, sees an upload refused, and opens report.html.

Skipped, saying why, without /usr/bin/chromium and /usr/bin/chromedriver
(`apt-get install -y chromium chromium-driver`; .ci/run installs them).
VQA_SERVE_SCREENSHOT=docs/web.png also keeps the page's screenshot there.
"""
import os
import shutil
import socket
import threading
import time

import pytest

from trainer.app import cli
from trainer.serve import web
from trainer.serve import model_backends
from trainer.serve import request_inputs

pytestmark = pytest.mark.browser

QUESTION = 'what color is the object?'
WAIT_SECONDS = 60
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def _chromium():
  """(chromium, chromedriver) paths, or skips the test saying what is
  missing."""
  chromium = shutil.which('chromium') or shutil.which('chromium-browser')
  driver = shutil.which('chromedriver')
  if not chromium or not driver:
    pytest.skip('needs Chromium and its driver on PATH (Debian: apt-get '
                'install -y chromium chromium-driver); found chromium='
                f'{chromium}, chromedriver={driver}')
  try:
    import selenium  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError:
    pytest.skip('needs selenium: pip install -e ".[test]"')
  return chromium, driver


@pytest.fixture(scope='module')
def browser():
  chromium, driver_path = _chromium()
  # pylint: disable=g-import-not-at-top
  from selenium import webdriver
  from selenium.webdriver.chrome import service
  # pylint: enable=g-import-not-at-top
  options = webdriver.ChromeOptions()
  options.binary_location = chromium
  for argument in ('--headless=new', '--no-sandbox', '--disable-gpu',
                   '--disable-dev-shm-usage', '--window-size=1280,860'):
    options.add_argument(argument)
  driver = webdriver.Chrome(service=service.Service(driver_path),
                            options=options)
  yield driver
  driver.quit()


def _free_port():
  with socket.socket() as probe:
    probe.bind(('127.0.0.1', 0))
    return probe.getsockname()[1]


@pytest.fixture(scope='module')
def live(served_models, tiny_records):
  """(page URL, backends) of `vqa serve` running in a thread."""
  import uvicorn  # pylint: disable=g-import-not-at-top
  backends = model_backends.load_backends(served_models, tiny_records)
  store = request_inputs.QuestionStore(tiny_records, 10)
  app = web.build_app(backends, web.ServeConfig(data=tiny_records),
                        store)
  port = _free_port()
  server = uvicorn.Server(uvicorn.Config(app, host='127.0.0.1', port=port,
                                         log_level='warning'))
  thread = threading.Thread(target=server.run, daemon=True)
  thread.start()
  deadline = time.monotonic() + WAIT_SECONDS
  while not server.started:
    assert time.monotonic() < deadline, 'the server did not start'
    time.sleep(0.1)
  yield f'http://127.0.0.1:{port}/', backends, store
  server.should_exit = True
  thread.join(WAIT_SECONDS)


def _wait(driver, condition):
  from selenium.webdriver.support import ui  # pylint: disable=g-import-not-at-top
  return ui.WebDriverWait(driver, WAIT_SECONDS).until(condition)


def _by():
  from selenium.webdriver.common import by  # pylint: disable=g-import-not-at-top
  return by.By


def _open_page(driver, url, source):
  from selenium.webdriver.support import ui  # pylint: disable=g-import-not-at-top
  driver.get(url)
  _wait(driver, lambda d: d.find_element(_by().TAG_NAME, 'body')
        .get_attribute('data-ready') == 'true')
  ui.Select(driver.find_element(_by().ID, 'source')).select_by_value(source)


def _ask(driver, question):
  field = driver.find_element(_by().ID, 'question')
  field.clear()
  field.send_keys(question)
  driver.find_element(_by().ID, 'submit').click()


def _shown_answers(driver, count):
  """{model: [answer, ...]} once the page shows `count` model cards."""
  cards = _wait(driver, lambda d: (
      lambda found: found if len(found) == count else False)(
          d.find_elements(_by().CSS_SELECTOR, '#models .model')))
  return {card.get_attribute('data-model'):
          [span.get_attribute('textContent') for span in
           card.find_elements(_by().CSS_SELECTOR, '.answer .text')]
          for card in cards}


def _keep_screenshot(driver, path):
  driver.save_screenshot(str(path))
  with open(path, 'rb') as f:
    assert f.read(8) == PNG_SIGNATURE
  wanted = os.environ.get('VQA_SERVE_SCREENSHOT')
  if wanted:
    os.makedirs(os.path.dirname(os.path.abspath(wanted)), exist_ok=True)
    shutil.copy(path, wanted)


def test_page_answers_a_question_about_an_uploaded_image(browser, live,
                                                         tmp_path):
  url, backends, store = live
  jpeg = store.questions('val2014')[1].image_jpeg
  image = tmp_path / 'photo.jpg'
  image.write_bytes(jpeg)
  expected = {backend.name: [a for a, _ in backend.answer(jpeg, QUESTION)
                             .answers] for backend in backends}
  _open_page(browser, url, 'upload')
  browser.find_element(_by().ID, 'image').send_keys(str(image))
  _ask(browser, QUESTION)
  assert _shown_answers(browser, len(backends)) == expected
  assert browser.find_element(_by().ID, 'asked').text == f'Q: {QUESTION}'
  assert not browser.find_element(_by().ID, 'error').is_displayed()


def test_page_answers_a_split_question_with_its_ground_truth(browser, live,
                                                             tmp_path):
  url, backends, store = live
  picked = store.questions('val2014')[0]
  expected = {backend.name: [a for a, _ in backend.answer(
      picked.image_jpeg, picked.question).answers] for backend in backends}
  _open_page(browser, url, 'val2014')
  _wait(browser, lambda d: d.find_element(_by().ID, 'question')
        .get_attribute('value') == picked.question)
  _wait(browser, lambda d: d.execute_script(
      'const i = document.getElementById("preview");'
      'return i.complete && i.naturalWidth > 0;'))
  _ask(browser, picked.question)
  assert _shown_answers(browser, len(backends)) == expected
  truth = browser.find_element(_by().ID, 'truth').text
  assert f'question {picked.question_id}' in truth
  assert picked.human_answers[0] in truth
  _keep_screenshot(browser, tmp_path / 'web.png')


def test_page_shows_why_an_upload_is_refused(browser, live, tmp_path):
  url, _, _ = live
  notes = tmp_path / 'notes.txt'
  notes.write_text('not a picture')
  _open_page(browser, url, 'upload')
  browser.find_element(_by().ID, 'image').send_keys(str(notes))
  _ask(browser, QUESTION)
  error = _wait(browser, lambda d: (
      lambda e: e if e.is_displayed() else False)(
          d.find_element(_by().ID, 'error')))
  assert 'not an image' in error.text and 'HTTP 415' in error.text
  assert not browser.find_elements(_by().CSS_SELECTOR, '#models .model')


def test_report_html_opens_offline_with_every_model(browser, served_models,
                                                    tiny_records, tmp_path):
  output = str(tmp_path / 'report')
  assert cli.main(['report', '--data', tiny_records, '--split', 'val2014',
                   '--output', output, '--latency-batches', '1',
                   '--latency-repeats', '1', '--examples', '2',
                   '--models'] + [f'{n}={p}' for n, p in served_models]) == 0
  names = [name for name, _ in served_models]
  browser.get('file://' + os.path.join(output, 'report.html'))
  tables = browser.find_elements(_by().TAG_NAME, 'table')
  figures = [row.get_attribute('data-model') for row in
             tables[0].find_elements(_by().CSS_SELECTOR, 'tr[data-model]')]
  assert figures == names
  assert all(name in tables[0].text for name in names)
  images = browser.find_elements(_by().TAG_NAME, 'img')
  assert len(images) == 2 + 2  # two plots, two example images
  assert all(browser.execute_script(
      'return arguments[0].complete && arguments[0].naturalWidth > 0;', img)
             for img in images)
