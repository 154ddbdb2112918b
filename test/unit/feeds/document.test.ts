import { describe, expect, it } from 'vitest';
import {
  DocumentSyntaxError,
  decodeUtf8,
  parseJsonText,
  parseYamlText,
} from '../../../src/feeds/document.js';

describe('feed documents', () => {
  it('names the line and column of broken JSON', () => {
    expect(() => parseJsonText('{\n  "id": "A",\n  "x": 1,}')).toThrow(
      /^invalid JSON at line 3 column 10: Expected double-quoted property name$/,
    );
    expect(() => parseJsonText('{"modified": }')).toThrow(/^invalid JSON: Unexpected token '}'$/);
    expect(() => parseJsonText('{"id": "A"')).toThrow(DocumentSyntaxError);
  });

  it('keeps YAML timestamps as strings and refuses an alias bomb', () => {
    expect(parseYamlText('modified: 2023-10-25T18:28:34.811764Z\n')).toEqual({
      modified: '2023-10-25T18:28:34.811764Z',
    });
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 0; i < 12; i++) {
      const prev = String.fromCharCode(97 + i);
      const next = String.fromCharCode(98 + i);
      lines.push(`${next}: &${next} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    expect(() => parseYamlText(lines.join('\n'))).toThrow(/^invalid YAML: .*alias/i);
  });

  it('refuses duplicate keys and invalid UTF-8', () => {
    expect(() => parseYamlText('id: A\nid: B\n')).toThrow(/^invalid YAML at line 2/);
    expect(() => decodeUtf8(Buffer.from([0x7b, 0xff, 0x7d]))).toThrow(/not valid UTF-8/);
    expect(decodeUtf8(Buffer.from('\ufeff{}', 'utf8'))).toBe('{}');
  });
});
