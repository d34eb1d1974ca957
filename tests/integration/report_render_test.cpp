// The HTML report as a browser draws it: headless Chromium renders report.html of a hand-made
// run directory to a PNG, and the chart colours must show up in it with real pixel counts (the
// charts are inline SVG; a malformed SVG renders as nothing). The PNG is decoded by a small
// Python standard-library script.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <sstream>

#include "selm/eval/svg_chart.hpp"
#include "support/eval_run_fixture.hpp"

namespace selm {
namespace SELM_UNITY_ID {

namespace fs = std::filesystem;

// Counts pixels of the given RRGGBB colours (each channel within 6) and white pixels.
const char* const kCountColours = R"PY(
import struct, sys, zlib
data = open(sys.argv[1], 'rb').read()
if data[:8] != b'\x89PNG\r\n\x1a\n':
    sys.exit('not a PNG')
pos, idat, header = 8, b'', None
while pos < len(data):
    length, kind = struct.unpack('>I4s', data[pos:pos + 8])
    chunk = data[pos + 8:pos + 8 + length]
    if kind == b'IHDR':
        header = struct.unpack('>IIBBBBB', chunk)
    elif kind == b'IDAT':
        idat += chunk
    pos += 12 + length
width, height, depth, color_type, _, _, interlace = header
if depth != 8 or color_type not in (2, 6) or interlace != 0:
    sys.exit('unsupported PNG %r' % (header,))
channels = 3 if color_type == 2 else 4
stride = width * channels
raw = zlib.decompress(idat)
targets = [tuple(int(c[i:i + 2], 16) for i in (0, 2, 4)) for c in sys.argv[2:]]
counts = [0] * len(targets)
white = 0
previous = bytearray(stride)
for y in range(height):
    kind = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    if kind == 1:
        for i in range(channels, stride):
            line[i] = (line[i] + line[i - channels]) & 255
    elif kind == 2:
        line = bytearray((a + b) & 255 for a, b in zip(line, previous))
    elif kind == 3:
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            line[i] = (line[i] + (left + previous[i]) // 2) & 255
    elif kind == 4:
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            p = left + up - corner
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
            line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
    previous = line
    for x in range(0, stride, channels):
        pixel = (line[x], line[x + 1], line[x + 2])
        if pixel == (255, 255, 255):
            white += 1
            continue
        for t, target in enumerate(targets):
            if abs(pixel[0] - target[0]) <= 6 and abs(pixel[1] - target[1]) <= 6 and abs(pixel[2] - target[2]) <= 6:
                counts[t] += 1
print('pixels %d' % (width * height))
print('white %d' % white)
for colour, count in zip(sys.argv[2:], counts):
    print('%s %d' % (colour, count))
)PY";

bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream folders(path != nullptr ? path : "");
  std::string folder;
  while (std::getline(folders, folder, ':')) {
    if (!folder.empty() && fs::exists(fs::path(folder) / program)) return true;
  }
  return false;
}

TEST(ReportRender, ChromiumDrawsEveryChartColour) {
  ASSERT_TRUE(on_path("chromium"))
      << "chromium is not installed: run scripts/setup.sh (it installs chromium, which this test uses to render "
         "report.html)";
  ASSERT_TRUE(on_path("python3")) << "python3 is not installed: run scripts/setup.sh";

  test::TempDir dir;
  test::write_sample_run(dir / "run");
  const auto report = test::run_selm({"report", (dir / "run").string()});
  ASSERT_EQ(report.exit_code, 0) << report.output;

  const fs::path screenshot = dir / "report.png";
  const auto rendered = test::run_program(
      "timeout", {"180", "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                  "--user-data-dir=" + (dir / "profile").string(), "--screenshot=" + screenshot.string(),
                  "--window-size=1200,3000", "file://" + fs::absolute(dir / "run" / "report.html").string()});
  ASSERT_EQ(rendered.exit_code, 0) << rendered.output;
  ASSERT_TRUE(fs::exists(screenshot)) << rendered.output;
  ASSERT_GT(fs::file_size(screenshot), 10000u);

  test::write_text(dir / "count_colours.py", kCountColours);
  // Blue: win rate, policy reward, policy length and loss; orange: initial model and accuracy;
  // green: margin; teal: KL.
  const std::vector<std::string> colours = {chart_palette()[0].substr(1), chart_palette()[1].substr(1),
                                            chart_palette()[2].substr(1), chart_palette()[5].substr(1)};
  std::vector<std::string> args = {(dir / "count_colours.py").string(), screenshot.string()};
  args.insert(args.end(), colours.begin(), colours.end());
  const auto counted = test::run_program("python3", args);
  ASSERT_EQ(counted.exit_code, 0) << counted.output;

  std::map<std::string, long> counts;
  std::istringstream lines(counted.output);
  std::string name;
  long value = 0;
  while (lines >> name >> value) counts[name] = value;
  ASSERT_EQ(counts["pixels"], 1200L * 3000L) << counted.output;
  // Text, tables and charts cover a real part of the page.
  EXPECT_LT(counts["white"], counts["pixels"] * 97 / 100) << counted.output;
  // Measured with Chromium 156: blue 2540, orange 1835, green 714, teal 647 pixels; a chart
  // that fails to draw loses hundreds of them, a missing legend swatch alone 180.
  EXPECT_GT(counts[colours[0]], 1500) << counted.output;
  EXPECT_GT(counts[colours[1]], 1000) << counted.output;
  EXPECT_GT(counts[colours[2]], 400) << counted.output;
  EXPECT_GT(counts[colours[3]], 400) << counted.output;
}

}  // namespace
}  // namespace selm
