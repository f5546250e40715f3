import { describe, expect, it } from 'vitest';
import { buildStructure } from '../../src/graph/structure.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { onnx } from '../../src/onnx/proto.js';
import { residual } from '../helpers/models.js';

describe('buildStructure', () => {
  it('links producers and consumers', () => {
    const s = buildStructure(residual().proto);
    const a = s.values.get('a')!;
    expect(s.nodes[a.producer]!.opType).toBe('Relu');
    expect(a.consumers.map((c) => s.nodes[c]!.opType).sort()).toEqual(['Add', 'Conv']);
    expect(s.values.get('x')!.origin).toBe('input');
    expect(s.values.get('stem.w')!.origin).toBe('initializer');
  });

  it('orders an unsorted graph topologically, keeping the given order where it can', () => {
    const m = residual().proto;
    const nodes = m.graph!.node!;
    const shuffled = onnx.ModelProto.create({ ...m, graph: { ...m.graph, node: [...nodes].reverse() } });
    const s = buildStructure(shuffled);
    const position = new Map(s.order.map((n, p) => [n, p]));
    for (const n of s.nodes) for (const r of n.reads) {
      const p = s.values.get(r)!.producer;
      if (p >= 0) expect(position.get(p)!).toBeLessThan(position.get(n.index)!);
    }
    expect(buildStructure(m).order).toEqual(nodes.map((_, i) => i));
  });

  it('rejects cycles, tensors nobody produces and tensors produced twice', () => {
    const b = new ModelBuilder();
    b.input('x', 'float32', [1]);
    b.op('Add', ['x', 'q'], {}, { output: 'p' });
    b.op('Relu', ['p'], {}, { output: 'q' });
    b.output('q');
    expect(() => buildStructure(b.build())).toThrow(/cycle/);

    const c = new ModelBuilder();
    c.input('x', 'float32', [1]);
    c.op('Add', ['x', 'ghost'], {}, { output: 'y' });
    c.output('y');
    expect(() => buildStructure(c.build())).toThrow(/reads tensor 'ghost', which no node, input or initializer provides/);

    const d = new ModelBuilder();
    d.input('x', 'float32', [1]);
    d.op('Relu', ['x'], {}, { output: 'y' });
    d.op('Neg', ['x'], {}, { output: 'y' });
    d.output('y');
    expect(() => buildStructure(d.build())).toThrow(/produced twice/);
  });

  it('marks nodes that feed no output as not live', () => {
    const b = new ModelBuilder();
    b.input('x', 'float32', [2]);
    b.op('Relu', ['x'], {}, { output: 'y' });
    b.op('Neg', ['x'], {}, { output: 'unused' });
    b.output('y');
    expect(buildStructure(b.build()).live).toEqual([true, false]);
  });

  it('counts outer-scope values read inside subgraphs as reads of the node', () => {
    const body = new ModelBuilder();
    body.op('Relu', ['outer'], {}, { output: 'then_out' });
    body.output('then_out');
    const els = new ModelBuilder();
    els.op('Neg', ['outer'], {}, { output: 'else_out' });
    els.output('else_out');
    const b = new ModelBuilder();
    b.input('x', 'float32', [2]);
    b.input('cond', 'bool', []);
    b.op('Abs', ['x'], {}, { output: 'outer' });
    b.op('If', ['cond'], { then_branch: body.build().graph!, else_branch: els.build().graph! }, { output: 'y' });
    b.output('y');
    const s = buildStructure(b.build());
    expect(s.nodes[1]!.reads).toEqual(['cond', 'outer']);
    expect(s.values.get('outer')!.consumers).toEqual([1]);
  });
});
