using System.Text;

using Wave.Core.Manifests;
using Wave.Core.Names;

namespace Wave.Tests.Core;

/// <summary>Seeded random inputs: parsers either accept or reject with their documented error, never anything else.</summary>
public sealed class FuzzTests
{
    private const string Alphabet = "abcxyz019ABZ._-/:@[]+ !é\u0000\t";

    private static readonly string[] Seeds =
    [
        "ubuntu", "ubuntu:22.04", "quay.io/org/img:1.0", "localhost:5000/a/b:tag", "[::1]:5000/x",
        "index.docker.io/user/repo@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "ghcr.io/a-b/c__d/e.f:v1.2.3-rc_1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ];

    [Fact]
    public void ImageReferenceTryParseNeverThrowsAndRoundTrips()
    {
        var random = new Random(20250304);
        var accepted = 0;
        for (var i = 0; i < 5000; i++)
        {
            var input = i % 2 == 0 ? RandomString(random) : Mutate(random, Seeds[random.Next(Seeds.Length)]);
            if (ImageReference.TryParse(input, out var reference, out var error))
            {
                accepted++;
                Assert.Null(error);
                var canonical = reference.ToString();
                Assert.True(ImageReference.TryParse(canonical, out var again, out var againError), $"'{input}' → '{canonical}': {againError}");
                Assert.Equal(reference, again);
                Assert.Equal(canonical, again.ToString());
            }
            else
            {
                Assert.Null(reference);
                Assert.False(string.IsNullOrWhiteSpace(error), input);
                var exception = Assert.Throws<InvalidImageReferenceException>(() => ImageReference.Parse(input));
                Assert.Equal(error, exception.Reason);
            }
        }
        // Mutations keep many names valid: the round-trip half of the test must have run.
        Assert.InRange(accepted, 200, 4800);
    }

    public static TheoryData<string> Documents => ["docker-manifest", "oci-manifest", "docker-config", "oci-index"];

    [Theory]
    [MemberData(nameof(Documents))]
    public void DeserializeOfMutatedDocumentsOnlyThrowsInvalidManifestException(string document)
    {
        var (original, roundTrip) = document switch
        {
            "docker-manifest" => (Samples.DockerManifest, RoundTrip<ImageManifest>()),
            "oci-manifest" => (Samples.OciManifest, RoundTrip<ImageManifest>()),
            "docker-config" => (Samples.DockerConfig, RoundTrip<ImageConfig>()),
            _ => (Samples.OciIndex(Samples.FakeDigest('1'), Samples.FakeDigest('2')), RoundTrip<ImageIndex>()),
        };
        var random = new Random(document.Length * 7919);
        var parsed = 0;
        for (var i = 0; i < 1500; i++)
        {
            var bytes = original.ToArray();
            for (var m = random.Next(1, 4); m > 0; m--)
            {
                MutateBytes(random, ref bytes);
            }
            try
            {
                roundTrip(bytes);
                parsed++;
            }
            catch (InvalidManifestException e)
            {
                Assert.False(string.IsNullOrEmpty(e.Message));
            }
            catch (Exception e)
            {
                Assert.Fail($"{e.GetType().Name} for {Convert.ToBase64String(bytes)}: {e}");
            }
            try
            {
                ManifestJson.DetectMediaType(bytes, null);
            }
            catch (InvalidManifestException)
            {
            }
            catch (Exception e)
            {
                Assert.Fail($"DetectMediaType: {e.GetType().Name} for {Convert.ToBase64String(bytes)}: {e}");
            }
        }
        // Some mutations (inside strings) keep the document valid, most break it: both paths ran.
        Assert.InRange(parsed, 1, 1499);
    }

    // Whatever is accepted can be written and read again to the same bytes.
    private static Action<byte[]> RoundTrip<T>() where T : class => bytes =>
    {
        var written = ManifestJson.Serialize(ManifestJson.Deserialize<T>(bytes));
        Assert.Equal(written, ManifestJson.Serialize(ManifestJson.Deserialize<T>(written)));
    };

    private static string RandomString(Random random)
    {
        var length = random.Next(0, 40);
        var chars = new char[length];
        for (var i = 0; i < length; i++)
        {
            chars[i] = Alphabet[random.Next(Alphabet.Length)];
        }
        return new string(chars);
    }

    private static string Mutate(Random random, string seed)
    {
        var builder = new StringBuilder(seed);
        for (var m = random.Next(1, 3); m > 0; m--)
        {
            var position = builder.Length == 0 ? 0 : random.Next(builder.Length);
            switch (random.Next(4))
            {
                case 0 when builder.Length > 0:
                    builder.Remove(position, 1);
                    break;
                case 1:
                    builder.Insert(position, Alphabet[random.Next(Alphabet.Length)]);
                    break;
                case 2 when builder.Length > 0:
                    builder[position] = Alphabet[random.Next(Alphabet.Length)];
                    break;
                default:
                    builder.Insert(position, seed[..random.Next(seed.Length)]);
                    break;
            }
        }
        return builder.ToString();
    }

    private static void MutateBytes(Random random, ref byte[] bytes)
    {
        var position = random.Next(bytes.Length);
        switch (random.Next(4))
        {
            case 0:
                bytes[position] = (byte)random.Next(256);
                break;
            case 1:
                bytes[position] = (byte)"{}[]\",:0-9en"[random.Next(12)];
                break;
            case 2:
                bytes = [.. bytes[..position], .. bytes[(position + 1)..]];
                break;
            default:
                bytes = [.. bytes[..position], (byte)random.Next(256), .. bytes[position..]];
                break;
        }
    }
}
