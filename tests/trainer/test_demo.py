"""`vqa demo` runs every stage on tiny sample data and times each one."""
import dataclasses
import os

import pytest

from trainer import contract
from trainer import demo


def test_demo_runs_every_stage_and_writes_the_records(tmp_path):
  config = dataclasses.replace(demo.DemoConfig(), output=str(tmp_path / 'd'),
                               images_per_split=12, num_shards=2)
  timings = demo.run_demo(config)
  assert [name for name, _ in timings] == [name for name, _ in demo.STAGES]
  assert all(seconds > 0 for _, seconds in timings)
  records = os.path.join(config.output, 'tfrecords')
  answers, metadata = contract.read_dataset_info(records)
  assert 'yes' in answers
  assert metadata['counts']['val2014']['written'] > 0
  # A second run replaces the first demo's output.
  demo.run_demo(dataclasses.replace(config, images_per_split=4))
  _, metadata = contract.read_dataset_info(records)
  assert metadata['counts']['train2014']['questions'] <= 4 * 5


def test_demo_refuses_to_delete_a_folder_it_did_not_write(tmp_path):
  (tmp_path / 'precious.txt').write_text('keep me')
  with pytest.raises(SystemExit, match='not a demo output'):
    demo.run_demo(dataclasses.replace(demo.DemoConfig(), output=str(tmp_path)))
  assert (tmp_path / 'precious.txt').exists()
