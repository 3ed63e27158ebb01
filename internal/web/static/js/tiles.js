// Where each state's tile sits on the map: [column, row] on a grid laid out roughly like India's map.
// States not listed here (an election of another country) are placed in rows below, in their order.
export const INDIA = {
  JK: [2, 0], LA: [3, 0],
  PB: [2, 1], HP: [3, 1], UK: [4, 1],
  CH: [1, 2], HR: [2, 2], DL: [3, 2], UP: [4, 2], BR: [5, 2], SK: [6, 2], AR: [9, 2],
  RJ: [1, 3], MP: [2, 3], CG: [3, 3], JH: [4, 3], WB: [5, 3], ML: [7, 3], AS: [8, 3], NL: [9, 3],
  GJ: [0, 4], DNHDD: [1, 4], MH: [2, 4], TS: [3, 4], OD: [4, 4], TR: [7, 4], MZ: [8, 4], MN: [9, 4],
  GA: [1, 5], KA: [2, 5], AP: [3, 5], AN: [6, 5],
  LD: [0, 6], KL: [2, 6], TN: [3, 6], PY: [4, 6],
};

// COMPASS places the seed election's five regions.
export const COMPASS = { N: [1, 0], W: [0, 1], C: [1, 1], E: [2, 1], S: [1, 2] };

// layout returns [column, row] for each state code, from whichever known layout places most of them;
// codes it does not place fill rows of `width` below the rest.
export function layout(codes, width = 10) {
  const places = (l) => codes.filter((c) => l[c]).length;
  const known = [INDIA, COMPASS].reduce((best, l) => (places(l) > places(best) ? l : best));
  return fill(codes, known, width);
}

function fill(codes, grid, width) {
  const placed = codes.filter((c) => grid[c]);
  const out = new Map();
  let next = placed.length ? Math.max(...placed.map((c) => grid[c][1])) + 1 : 0;
  let col = 0;
  for (const c of codes) {
    if (grid[c]) {
      out.set(c, grid[c]);
      continue;
    }
    out.set(c, [col, next]);
    if (++col === width) {
      col = 0;
      next++;
    }
  }
  return out;
}
