import { test } from 'node:test';
import assert from 'node:assert/strict';

import { arrange, parseQuery } from '../static/js/table.js';

const columns = [
  { id: 'name', value: (r) => r.name },
  { id: 'votes', value: (r) => r.votes, num: true },
];
const rows = [
  { name: 'Asha', votes: 5 }, { name: 'Ravi', votes: 9 }, { name: 'Mira', votes: 5 }, { name: 'Arjun', votes: 1 },
];

test('parseQuery falls back to the defaults for what is missing or wrong', () => {
  assert.deepEqual(parseQuery('', { sort: 'votes' }), { q: '', sort: 'votes', dir: 'desc', size: 25, page: 1, state: '' });
  assert.deepEqual(parseQuery('?q=ra&sort=name&dir=asc&size=10&page=3&state=UP'),
    { q: 'ra', sort: 'name', dir: 'asc', size: 10, page: 3, state: 'UP' });
  const bad = parseQuery('?dir=sideways&size=7&page=-2');
  assert.equal(bad.dir, 'desc');
  assert.equal(bad.size, 25);
  assert.equal(bad.page, 1);
});

test('arrange sorts numbers as numbers and keeps the order of ties', () => {
  const { shown } = arrange(rows, parseQuery('?sort=votes&dir=desc'), { columns });
  assert.deepEqual(shown.map((r) => r.name), ['Ravi', 'Asha', 'Mira', 'Arjun']);
  const asc = arrange(rows, parseQuery('?sort=name&dir=asc'), { columns }).shown;
  assert.deepEqual(asc.map((r) => r.name), ['Arjun', 'Asha', 'Mira', 'Ravi']);
});

test('arrange searches case-insensitively and pages, clamping a page past the end', () => {
  const searchText = (r) => r.name;
  const found = arrange(rows, parseQuery('?q=A&sort=name&dir=asc'), { columns, searchText });
  assert.deepEqual(found.shown.map((r) => r.name), ['Arjun', 'Asha', 'Mira', 'Ravi']);
  const few = arrange(rows, parseQuery('?q=ra&sort=name&dir=asc'), { columns, searchText });
  assert.deepEqual(few.shown.map((r) => r.name), ['Mira', 'Ravi']);
  const paged = arrange(rows, { ...parseQuery('?sort=name&dir=asc&size=10'), size: 2, page: 9 }, { columns });
  assert.equal(paged.pages, 2);
  assert.equal(paged.page, 2);
  assert.equal(paged.first, 2);
  assert.deepEqual(paged.visible.map((r) => r.name), ['Mira', 'Ravi']);
});

test('toCSV quotes what needs it and keeps formulas as text', async () => {
  const { toCSV } = await import('../static/js/table.js');
  const columns = [{ label: 'Candidate', value: (r) => r.name }, { label: 'Votes', value: (r) => r.votes }];
  const csv = toCSV([
    { name: 'Asha, "the Rao"', votes: 12 },
    { name: '=HYPERLINK("http://x","y")', votes: -1 },
    { name: '@SUM(A1)', votes: 0 },
    { name: 'two\nlines', votes: 3 },
  ], columns);
  assert.equal(csv, 'Candidate,Votes\r\n' +
    '"Asha, ""the Rao""",12\r\n' +
    '"\'=HYPERLINK(""http://x"",""y"")",-1\r\n' +
    "'@SUM(A1),0\r\n" +
    '"two\nlines",3\r\n');
});
