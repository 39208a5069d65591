// The seat-map page's tests come with the page.
export const tests = [];
