"""``scripts/weight_copies.py``: a compiled program's transposes, those of a weight's dimensions marked."""

from __future__ import annotations

from command_helpers import script

PROGRAM = """
  %transpose.1 = f32[784,3,100]{2,1,0} transpose(f32[3,784,100]{2,1,0} %p0), dimensions={1,0,2}
  %copy.2 = f32[300,784]{1,0} copy(f32[300,784]{0,1} %bitcast.3)
  %transpose.4 = f32[5,4032,20]{2,1,0} transpose(f32[4032,5,20]{2,1,0} %dot.5), dimensions={1,0,2}
  %transpose.6 = f32[784,7]{1,0} transpose(f32[7,784]{1,0} %x), dimensions={1,0}
  %add.7 = f32[3,784,100]{2,1,0} add(%p0, %p0)
"""


def test_the_weights_dimensions_in_another_order_are_marked_and_nothing_else():
    moved = script("weight_copies").moved(PROGRAM, [(3, 784, 100)])
    assert moved == {("transpose", (784, 3, 100), True): 1, ("copy", (300, 784), True): 1,  # K merged
                     ("transpose", (5, 4032, 20), False): 1, ("transpose", (784, 7), False): 1}
