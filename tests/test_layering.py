"""The packages import one way, down the layers (ARCHITECTURE.md, STYLE.md).

- Only trainer/app (the composition root) imports beam_pipelines or tuning.
- beam_pipelines imports nothing of trainer but trainer.contract (and the bare
  `import trainer`, which sets TF_USE_LEGACY_KERAS).
- trainer/contract imports no TensorFlow, Beam or tf_keras at module level.
- trainer's stages import only the stages below them: contract < data <
  models < serve < measure < fit < app.

Every import is read with `ast`, those inside functions included.
"""
import ast
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ('beam_pipelines', 'trainer', 'tuning')
COMPOSITION_ROOT = 'trainer.app'
CONTRACT = 'trainer.contract'
HEAVY = ('tensorflow', 'apache_beam', 'tf_keras')
# trainer's subpackages, lowest first: each imports only those before it.
STAGES = ('contract', 'data', 'models', 'serve', 'measure', 'fit', 'app')


def stage_of(module):
  """The index in STAGES of a trainer.STAGE... module, else None."""
  parts = module.split('.')
  if len(parts) > 1 and parts[0] == 'trainer' and parts[1] in STAGES:
    return STAGES.index(parts[1])
  return None


def module_name(path, root):
  parts = list(path.relative_to(root).with_suffix('').parts)
  if parts[-1] == '__init__':
    parts.pop()
  return '.'.join(parts)


def is_within(name, package):
  return name == package or name.startswith(package + '.')


def _absolute(node, module, is_package):
  """The module an ImportFrom names, with relative levels resolved."""
  if not node.level:
    return node.module or ''
  package = module.split('.')
  package = package if is_package else package[:-1]
  base = package[:len(package) - (node.level - 1)]
  return '.'.join(base + ([node.module] if node.module else []))


def imports_of(tree, module, is_package):
  """[(imported module, line, at module level)] of every import statement.

  `from a import b` counts as a.b: b may be a module (`from trainer import
  fit`) and the rules are about modules.
  """
  found = []

  def visit(node, top_level):
    if isinstance(node, ast.Import):
      found.extend((alias.name, node.lineno, top_level) for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
      base = _absolute(node, module, is_package)
      found.extend(('.'.join(filter(None, (base, alias.name)))
                    if alias.name != '*' else base, node.lineno, top_level)
                   for alias in node.names)
    inside = top_level and not isinstance(
        node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
    for child in ast.iter_child_nodes(node):
      visit(child, inside)

  visit(tree, True)
  return found


def _violation(module, imported, top_level):
  """What rule `module` importing `imported` breaks, or None."""
  own_package = module.split('.')[0]
  for package in ('beam_pipelines', 'tuning'):
    if (is_within(imported, package) and own_package != package and
        not is_within(module, COMPOSITION_ROOT)):
      return f'only {COMPOSITION_ROOT} may import {package}'
  if (own_package == 'beam_pipelines' and is_within(imported, 'trainer') and
      imported != 'trainer' and not is_within(imported, CONTRACT)):
    return f'beam_pipelines may import only {CONTRACT} of trainer'
  if (is_within(module, CONTRACT) and top_level and
      any(is_within(imported, heavy) for heavy in HEAVY)):
    return f'{CONTRACT} imports no {"/".join(HEAVY)} at module level'
  own, other = stage_of(module), stage_of(imported)
  if own is not None and other is not None and other > own:
    return (f'trainer.{STAGES[own]} may import only the stages below it '
            f'({" < ".join(STAGES)})')
  return None


def layering_violations(root):
  """'module (file:line) imports X: rule' for every import breaking a rule."""
  problems = []
  for package in PACKAGES:
    for path in sorted((root / package).rglob('*.py')):
      module = module_name(path, root)
      tree = ast.parse(path.read_text(encoding='utf-8'), filename=str(path))
      is_package = path.name == '__init__.py'
      for imported, line, top_level in imports_of(tree, module, is_package):
        rule = _violation(module, imported, top_level)
        if rule:
          problems.append(f'{module} ({path.relative_to(root)}:{line}) '
                          f'imports {imported}: {rule}')
  return problems


def test_packages_import_down_the_layers():
  problems = layering_violations(ROOT)
  assert not problems, '\n'.join(problems)


def _write(root, relative, text):
  path = root / relative
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(text)


def test_each_planted_violation_is_named(tmp_path):
  for package in PACKAGES:
    _write(tmp_path, f'{package}/__init__.py', 'import trainer\n')
  _write(tmp_path, 'trainer/measure/bad.py',
         'def later():\n  from beam_pipelines import images\n')
  _write(tmp_path, 'trainer/app/fine.py',
         'import beam_pipelines.preprocess\nfrom tuning import sweep\n')
  _write(tmp_path, 'beam_pipelines/bad.py', 'from trainer.fit import train\n')
  _write(tmp_path, 'beam_pipelines/fine.py',
         'from trainer.contract import record_spec\n')
  _write(tmp_path, 'trainer/contract/bad.py',
         'import tensorflow as tf\ndef later():\n  import apache_beam\n')
  _write(tmp_path, 'tuning/bad.py', 'import beam_pipelines.images as i\n')
  _write(tmp_path, 'trainer/data/up.py',
         'def later():\n  from trainer.models import multimodal\n')
  _write(tmp_path, 'trainer/fit/down.py', 'from trainer.measure import sizes\n')
  assert layering_violations(tmp_path) == [
      'beam_pipelines.bad (beam_pipelines/bad.py:1) imports '
      'trainer.fit.train: beam_pipelines may import only trainer.contract '
      'of trainer',
      'trainer.contract.bad (trainer/contract/bad.py:1) imports tensorflow: '
      'trainer.contract imports no tensorflow/apache_beam/tf_keras at module '
      'level',
      'trainer.data.up (trainer/data/up.py:2) imports '
      'trainer.models.multimodal: trainer.data may import only the stages '
      'below it (contract < data < models < serve < measure < fit < app)',
      'trainer.measure.bad (trainer/measure/bad.py:2) imports '
      'beam_pipelines.images: only trainer.app may import beam_pipelines',
      'tuning.bad (tuning/bad.py:1) imports beam_pipelines.images: only '
      'trainer.app may import beam_pipelines',
  ]


def test_the_pipeline_and_its_command_load_without_tensorflow():
  # Dataflow workers install only what the pipeline needs (setup.py), and
  # `vqa preprocess` is launched from such an install.
  code = ('import sys, beam_pipelines.preprocess; '
          'from trainer.app import cli; '
          'cli.job_config("preprocess", ["--data-dir", "in", "--output", "out"]); '
          'print(sorted({m.split(".")[0] for m in sys.modules} & '
          '{"tensorflow", "tf_keras"}))')
  result = subprocess.run([sys.executable, '-c', code], cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          check=True)
  assert result.stdout.strip() == '[]', (
      'importing the pipeline and `vqa preprocess` imported ' + result.stdout)
