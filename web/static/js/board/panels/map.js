// Maps from the GeoJSON a panel carries: a choropleth (features coloured by value) or points,
// drawn as SVG with no tiles from anywhere. Labels are text nodes.
const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attributes = {}) {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  return element;
}

function rings(geometry) {
  switch (geometry.type) {
    case "Polygon":
      return geometry.coordinates;
    case "MultiPolygon":
      return geometry.coordinates.flat();
    case "LineString":
      return [geometry.coordinates];
    case "MultiLineString":
      return geometry.coordinates;
    default:
      return [];
  }
}

function points(geometry) {
  if (geometry.type === "Point") return [geometry.coordinates];
  if (geometry.type === "MultiPoint") return geometry.coordinates;
  return [];
}

function colour(value, low, high) {
  const t = high > low ? (value - low) / (high - low) : 0;
  const hue = 210 - 210 * Math.max(0, Math.min(1, t)); // blue (low) to red (high)
  return `hsl(${hue} 70% 45%)`;
}

export function renderMap(body, panel) {
  const { geojson, valueProperty = "value", labelProperty = "name", mode, unit } = panel.data;
  const property = valueProperty || "value";
  const label = labelProperty || "name";
  const coordinates = geojson.features.flatMap((f) => [...rings(f.geometry).flat(), ...points(f.geometry)]);
  const xs = coordinates.map((c) => c[0]);
  const ys = coordinates.map((c) => c[1]);
  const [minX, maxX, minY, maxY] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const scaleX = Math.cos(((minY + maxY) / 2) * (Math.PI / 180)); // keep shapes' proportions
  const width = (maxX - minX) * scaleX || 1;
  const height = maxY - minY || 1;
  const project = ([x, y]) => [((x - minX) * scaleX) / width * 1000, (maxY - y) / height * 1000];
  const values = geojson.features
    .map((f) => Number(f.properties?.[property]))
    .filter((v) => Number.isFinite(v));
  const low = Math.min(...values, 0);
  const high = Math.max(...values, 1);
  const root = svg("svg", { viewBox: "-10 -10 1020 1020", class: "map", preserveAspectRatio: "xMidYMid meet" });
  for (const feature of geojson.features) {
    const value = Number(feature.properties?.[property]);
    const name = feature.properties?.[label];
    const fill = Number.isFinite(value) ? colour(value, low, high) : "#2a3a4a";
    const title = svg("title");
    title.textContent = `${name ?? ""} ${Number.isFinite(value) ? value : ""}${unit ?? ""}`.trim();
    for (const ring of rings(feature.geometry)) {
      const d = ring.map((c, i) => `${i ? "L" : "M"}${project(c).join(",")}`).join("") + "Z";
      const path = svg("path", { d, fill: mode === "points" ? "none" : fill, stroke: "#0f1720", "stroke-width": 3 });
      path.append(title.cloneNode(true));
      root.append(path);
    }
    for (const point of points(feature.geometry)) {
      const [cx, cy] = project(point);
      const radius = mode === "points" && Number.isFinite(value) ? 8 + (24 * (value - low)) / (high - low || 1) : 10;
      const circle = svg("circle", { cx, cy, r: radius, fill, "fill-opacity": 0.8 });
      circle.append(title.cloneNode(true));
      root.append(circle);
    }
    const all = [...rings(feature.geometry).flat(), ...points(feature.geometry)].map(project);
    if (name && all.length) {
      const cx = all.reduce((s, c) => s + c[0], 0) / all.length;
      const cy = all.reduce((s, c) => s + c[1], 0) / all.length;
      const text = svg("text", { x: cx, y: cy, class: "map-label", "text-anchor": "middle" });
      text.textContent = Number.isFinite(value) ? `${name} ${value}` : String(name);
      root.append(text);
    }
  }
  body.replaceChildren(root);
}
