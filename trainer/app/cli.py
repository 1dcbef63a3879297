"""The `vqa` command: one subcommand per job, each also a `python -m` module.

Subcommand modules are imported only when chosen, so `vqa --help` is fast and
one job never pays for another's imports.
"""
import importlib
import sys

# subcommand -> (module with main(argv), one-line help)
SUBCOMMANDS = {
    'sample-data': ('beam_pipelines.sample_data',
                    'write a sample VQA v2 data set (shapes or photos)'),
    'preprocess': ('beam_pipelines.preprocess',
                   'VQA v2 files -> sharded gzip TFRecords (Apache Beam)'),
    'train': ('trainer.fit.train',
              'train the teacher or the question-only baseline (tf.distribute)'),
    'distill': ('trainer.fit.distill',
                'distil a trained teacher into a small student'),
    'prune': ('trainer.fit.prune',
              'magnitude pruning (tfmot) with fine-tuning, stripped and sized'),
    'export-tflite': ('trainer.serve.tflite_export',
                      'TFLite conversion (fp32, dynamic-range, int8), '
                      'evaluated with the interpreter'),
    'report': ('trainer.measure.report',
               'compare models: size, accuracy, latency; table and plots'),
    'tune': ('tuning.cli',
             'Ray Tune sweeps over distillation and pruning settings'),
    'evaluate': ('trainer.measure.evaluate',
                 'official VQA accuracy of a model, with baselines'),
    'predict': ('trainer.serve.predict',
                'answer a question about a picture with an exported model'),
    'serve': ('trainer.serve.web',
              'a web page and JSON API asking every exported model at once'),
    'demo': ('trainer.app.demo',
             'the whole flow on the embedded sample data, timed'),
}


def usage():
  lines = ['usage: vqa SUBCOMMAND [options]   (vqa SUBCOMMAND --help)', '',
           'subcommands:']
  lines += [f'  {name:<15}{help_text}'
            for name, (_, help_text) in SUBCOMMANDS.items()]
  return '\n'.join(lines)


def main(argv=None):
  argv = sys.argv[1:] if argv is None else list(argv)
  if not argv or argv[0] in ('-h', '--help'):
    print(usage())
    return 0
  name, rest = argv[0], argv[1:]
  if name not in SUBCOMMANDS:
    print(f'vqa: unknown subcommand {name!r}\n\n{usage()}', file=sys.stderr)
    return 2
  module = importlib.import_module(SUBCOMMANDS[name][0])
  return module.main(rest)


if __name__ == '__main__':
  sys.exit(main())
