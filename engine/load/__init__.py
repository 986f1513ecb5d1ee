"""Load policy YAML and ticket JSON into plain Python data with source locations.

- `document`: `Document` (data plus JSON pointer -> file:line:column marks), `MAX_DEPTH`;
- `yaml_events`: `load_yaml`, YAML 1.2 from parser events, YAML 1.1 hazards reported;
- `json_scan`: `load_json`, values as ``json.loads`` gives them, with marks;
- `reader`: the one file reader (`read_text`, `decode_text`) and `load_*_file` built on it;
- `policies`: where policies are (bundled ids, files, folders).
"""

from engine.core.diagnostics import pointer_join
from engine.load.document import MAX_DEPTH, Document
from engine.load.json_scan import load_json
from engine.load.reader import decode_text, load_json_file, load_yaml_file, read_text
from engine.load.yaml_events import load_yaml

__all__ = [
    "MAX_DEPTH",
    "Document",
    "decode_text",
    "load_json",
    "load_json_file",
    "load_yaml",
    "load_yaml_file",
    "pointer_join",
    "read_text",
]
