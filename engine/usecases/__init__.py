"""The use cases behind `engine.app` (which every host imports): base, decide, policies,
calendar."""
