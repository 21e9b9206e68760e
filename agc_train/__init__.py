"""The main job above the library: train on the bundled digits (``agc_train.train``) and its data.

``autograd_core`` is the engine and imports nothing from here, ``nn`` or ``optim``; this
package sits on top of all three.
"""
