"""Write the KV-cache row gather graphs used for beam search on WebGPU.

The decoder's cache stays in GPU memory on webgpu (onnxruntime-node `preferredOutputLocation:
'gpu-buffer'`), and onnxruntime-node cannot read such a tensor back to JS, so beams are reordered
on the device: one ONNX Gather along axis 0 (the batch/beam rows), run on the same provider.

  data     T     [rows, heads, seq, head_dim]
  indices  int64 [new_rows]        (the parent row of each new row)
  gathered T     [new_rows, heads, seq, head_dim]

One file per KV dtype (float32, float16). Run with Debian's python3 (needs the onnx package):
  /usr/bin/python3 native-models/kv-cache/gather.py resources/graphs
"""
import os
import sys

import onnx
from onnx import TensorProto, helper

# Gather has been unchanged since opset 13; ir_version 8 is what onnx 1.13 writes for it.
OPSET = 13
IR_VERSION = 8
DTYPES = {"float32": TensorProto.FLOAT, "float16": TensorProto.FLOAT16}


def gather_model(elem_type: int) -> onnx.ModelProto:
    dims = ["rows", "heads", "seq", "head_dim"]
    graph = helper.make_graph(
        [helper.make_node("Gather", ["data", "indices"], ["gathered"], axis=0)],
        "kv_gather",
        [helper.make_tensor_value_info("data", elem_type, dims), helper.make_tensor_value_info("indices", TensorProto.INT64, ["new_rows"])],
        [helper.make_tensor_value_info("gathered", elem_type, ["new_rows", *dims[1:]])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="omnifusion")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else "resources/graphs"
    os.makedirs(out, exist_ok=True)
    for name, elem_type in DTYPES.items():
        onnx.save(gather_model(elem_type), os.path.join(out, f"kv_gather.{name}.onnx"))


if __name__ == "__main__":
    main()
