"""The `vqa serve` job (its config: serve_config.py)."""
import importlib.resources
import sys

from trainer.contract import entry_point
from trainer.contract import errors
from trainer.serve import hosts
from trainer.serve import model_backends
from trainer.serve import request_inputs
# The job's config, here too for callers of the job.
from trainer.serve.serve_config import ServeConfig  # pylint: disable=unused-import
from trainer.serve.serve_config import parse_served_models  # pylint: disable=unused-import

PAGE = 'static/serve.html'
MAX_QUESTION_CHARS = 500


def host_warning(host):
  """A warning for a --host other than loopback, else None."""
  if hosts.is_loopback(host):
    return None
  return (f'warning: --host {host}: the page and its API are open to every '
          'machine that can reach this one, without authentication, and '
          'each question costs CPU time; keep 127.0.0.1 unless you mean it')


def page_html():
  return importlib.resources.files('trainer.serve').joinpath(PAGE).read_text(
      encoding='utf-8')


def _error(status, message):
  from fastapi import HTTPException  # pylint: disable=g-import-not-at-top
  return HTTPException(status_code=status, detail=message)


def _answer_all(backends, image_bytes, question):
  results = []
  for backend in backends:
    answered = backend.answer(image_bytes, question)
    results.append(dict(
        model_backends.describe(backend), milliseconds=answered.milliseconds,
        answers=[{'answer': answer, 'probability': probability}
                 for answer, probability in answered.answers]))
  return results


def _question_text(typed, picked):
  question = (typed or '').strip() or (picked.question if picked else '')
  if not question:
    raise _error(400, 'type a question')
  if len(question) > MAX_QUESTION_CHARS:
    raise _error(400, f'the question is longer than {MAX_QUESTION_CHARS} '
                 'characters')
  return question


def build_app(backends, config, store=None):
  """The FastAPI app: the page, and the JSON API over `backends`.

  Args:
    backends: serve_backends backends, in the page's order.
    config: ServeConfig (its limits and split are used).
    store: request_inputs.QuestionStore of the data folder, or None.
  """
  # pylint: disable=g-import-not-at-top
  import fastapi
  from fastapi import responses
  from starlette import concurrency
  # pylint: enable=g-import-not-at-top
  app = fastapi.FastAPI(title='vqa serve', docs_url='/api/docs',
                        redoc_url=None, openapi_url='/api/openapi.json')
  limits = config.limits
  page = page_html()

  @app.middleware('http')
  async def refuse_large_bodies(request, call_next):
    # Checked before the multipart parser spools the body to disk.
    if request.method == 'POST':
      refusal = request_inputs.body_refusal(
          request.headers.get('content-length'), limits)
      if refusal:
        return responses.JSONResponse({'detail': refusal.message},
                                      status_code=refusal.status)
    return await call_next(request)

  def need_store():
    if store is None:
      raise _error(404, 'no split questions: start vqa serve with --data')
    return store

  def picked_question(split, question_id):
    try:
      return need_store().find(split or config.split, question_id)
    except request_inputs.SplitRefused as e:
      raise _error(400, str(e)) from e
    except KeyError as e:
      raise _error(404, e.args[0]) from e

  @app.get('/', response_class=responses.HTMLResponse)
  def index():
    return page

  @app.get('/api/info')
  def info():
    return {'models': [model_backends.describe(b) for b in backends],
            'data': config.data or None,
            'splits': store.splits() if store else [],
            'split': config.split if store else None,
            'max_upload_bytes': limits.max_upload_bytes,
            'max_pixels': limits.max_pixels,
            'top_k': model_backends.TOP_K}

  @app.get('/api/questions')
  def questions(split: str = '', limit: int = 0):
    try:
      found = need_store().questions(split or config.split)
    except request_inputs.SplitRefused as e:
      raise _error(400, str(e)) from e
    limit = min(limit, len(found)) if limit > 0 else len(found)
    return {'split': split or config.split,
            'questions': [q.summary() for q in found[:limit]]}

  @app.get('/api/image')
  def image(question_id: int, split: str = ''):
    picked = picked_question(split, question_id)
    return responses.Response(picked.image_jpeg, media_type='image/jpeg')

  @app.post('/api/answer')
  async def answer(question: str = fastapi.Form(''),
                   split: str = fastapi.Form(''),
                   question_id: int | None = fastapi.Form(None),
                   image: fastapi.UploadFile | None = fastapi.File(None)):
    if (image is None) == (question_id is None):
      raise _error(400, 'give an image file or a split question_id (one of '
                   'the two)')
    picked = None
    if image is not None:
      data = await image.read(limits.max_upload_bytes + 1)
      try:
        checked = request_inputs.checked_image(data, limits)
      except request_inputs.ImageRefused as e:
        raise _error(e.status, e.message) from e
      image_bytes, source = checked.data, {'source': 'upload',
                                           **checked.summary()}
    else:
      picked = picked_question(split, question_id)
      image_bytes, source = picked.image_jpeg, {'source': 'split'}
    text = _question_text(question, picked)
    models = await concurrency.run_in_threadpool(_answer_all, backends,
                                                 image_bytes, text)
    return {'question': text, 'image': source,
            'ground_truth': picked.summary() if picked else None,
            'models': models}

  return app


def load(config):
  """(backends, question store or None) of a config; ValueError if wrong."""
  store = None
  if config.data:
    store = request_inputs.QuestionStore(config.data, config.questions)
    store.questions(config.split)  # a wrong --split fails now, not later
  return model_backends.load_backends(config.models, config.data), store


def serve(config):
  """Loads every model, then serves the page and the API until stopped."""
  if config.questions < 1:
    raise errors.UserError('--page-questions must be >= 1')
  backends, store = load(config)
  import uvicorn  # pylint: disable=g-import-not-at-top
  warning = host_warning(config.host)
  if warning:
    print(warning, file=sys.stderr)
  print(f'serving {", ".join(b.name for b in backends)} on '
        f'http://{config.host}:{config.port}/ (Ctrl-C stops)', flush=True)
  uvicorn.run(build_app(backends, config, store), host=config.host,
              port=config.port, log_level='warning')


if __name__ == '__main__':
  sys.exit(entry_point.refuse_direct_run('serve', 'trainer.serve.web'))
