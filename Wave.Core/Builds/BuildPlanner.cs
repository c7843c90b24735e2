using System.Diagnostics.CodeAnalysis;
using System.Text;

using Wave.Core.Augmentation;
using Wave.Core.Builds.Singularity;
using Wave.Core.Builds.Templates;
using Wave.Core.Digests;
using Wave.Core.Layers;
using Wave.Core.Names;

namespace Wave.Core.Builds;

/// <summary>
/// Turns the build fields of a container request into a <see cref="BuildPlan"/>: checks every field, renders the
/// Dockerfile, computes the container id and the target name. Pure: no I/O, same input → same plan.
/// </summary>
/// <remarks>
/// Which recipe is built:
/// <list type="bullet">
/// <item><c>containerFile</c>: that Dockerfile; a <c>condaFile</c> / <c>spackFile</c> sent with it goes into the
/// context as <c>conda.yml</c> / <c>spack.yaml</c> for it to COPY.</item>
/// <item><c>condaFile</c> or <c>packages</c> (type CONDA): the micromamba template.</item>
/// <item><c>spackFile</c>: the Spack template.</item>
/// <item><c>containerImage</c> with <c>freeze</c>: <c>FROM</c> that image.</item>
/// </list>
/// With <c>freeze</c>, <c>containerConfig</c> (layers, working dir, env, entrypoint, cmd) is appended to the
/// Dockerfile and so becomes part of the image and of its id; without freeze it is not built in (the Api may still
/// augment the built image at pull time).
/// </remarks>
public static class BuildPlanner
{
    public static bool TryPlan(BuildRequestFields fields, BuildOptions options, [NotNullWhen(true)] out BuildPlan? plan, [NotNullWhen(false)] out BuildRequestError? error)
    {
        try
        {
            plan = Plan(fields, options);
            error = null;
            return true;
        }
        catch (InvalidBuildRequestException e)
        {
            plan = null;
            error = e.Error;
            return false;
        }
    }

    /// <exception cref="InvalidBuildRequestException">The request is malformed; the error names the field.</exception>
    public static BuildPlan Plan(BuildRequestFields fields, BuildOptions options)
    {
        ArgumentNullException.ThrowIfNull(fields);
        ArgumentNullException.ThrowIfNull(options);

        var format = ParseFormat(fields.Format);
        if (format == SifFormat)
        {
            CheckSifRequest(fields);
        }
        if (!NameStrategies.TryParse(fields.NameStrategy, out var strategy))
        {
            throw Invalid("nameStrategy", $"'{fields.NameStrategy}' is not a name strategy (expected none, tagPrefix or imageSuffix)");
        }
        var platforms = ParsePlatforms(fields.ContainerPlatform ?? options.DefaultPlatform);
        var platform = platforms[0];
        var platformText = string.Join(',', platforms.Select(p => p.ToString()));
        CheckSources(fields);
        if (fields.Freeze && string.IsNullOrWhiteSpace(fields.BuildRepository))
        {
            throw Invalid("freeze", "requires buildRepository: a frozen image is pushed to a repository of your own");
        }
        var repositoryText = string.IsNullOrWhiteSpace(fields.BuildRepository) ? options.DefaultBuildRepository : fields.BuildRepository;
        if (repositoryText is null)
        {
            throw Invalid("buildRepository", "is required: this Wave service has no default build repository");
        }
        var repository = RepositoryName.Parse("buildRepository", repositoryText, options.PushRegistries);
        var cacheText = string.IsNullOrWhiteSpace(fields.CacheRepository) ? options.DefaultCacheRepository : fields.CacheRepository;
        var cacheRepository = cacheText is null ? null : RepositoryName.Parse("cacheRepository", cacheText, options.PushRegistries);

        var recipe = RenderRecipe(fields, options, format);
        var dockerfile = recipe.Dockerfile;
        if (fields.ContainerIncludes is { Count: > 0 } includes)
        {
            dockerfile = AppendLine(dockerfile, IncludeInstructions(includes));
        }
        var binaryFiles = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var remoteLayers = new List<RemoteLayer>();
        if (fields.Freeze && fields.ContainerConfig is { IsEmpty: false } config)
        {
            CheckConfig(config);
            ReadLayers(config, options, binaryFiles, remoteLayers);
            var instructions = FreezeDockerfile.ConfigInstructions(config);
            if (CredentialReadGuard.FindCredentialRead(instructions) is { } marker)
            {
                throw CredentialRead("containerConfig", marker);
            }
            dockerfile = AppendLine(dockerfile, instructions);
        }
        var buildContext = fields.BuildContext is null ? null : ReadBuildContext(fields.BuildContext, options);
        var compression = fields.BuildCompression is null ? null : ReadCompression(fields.BuildCompression, options);

        var digests = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (path, text) in recipe.ContextFiles)
        {
            digests[path] = Digest.Sha256(Encoding.UTF8.GetBytes(text));
        }
        foreach (var (path, bytes) in binaryFiles)
        {
            digests[path] = Digest.Sha256(bytes);
        }
        foreach (var layer in remoteLayers)
        {
            digests[layer.Path] = layer.GzipDigest;
        }
        if (buildContext is not null)
        {
            digests[Builds.ContainerId.BuildContextKey] = buildContext.TarDigest;
        }
        var containerId = ContainerId.Compute(dockerfile, platformText, repository, format, digests, compression);
        var name = ImageNaming.Name(repository, containerId, strategy, recipe.Packages);

        return new BuildPlan
        {
            Kind = recipe.Kind,
            ContainerId = containerId,
            Dockerfile = dockerfile,
            ContextFiles = recipe.ContextFiles,
            BinaryContextFiles = binaryFiles,
            RemoteLayers = remoteLayers,
            Platform = platform,
            Platforms = platforms,
            BuildContext = buildContext,
            RemoteFiles = recipe.RemoteFiles,
            Compression = compression,
            BuildRepository = repository,
            TargetImage = name.ToString(),
            Tag = name.Tag,
            NameStrategy = strategy,
            CacheRepository = cacheRepository,
            Format = format,
            Freeze = fields.Freeze,
            Timeout = options.BuildTimeout,
        };
    }

    private sealed record Recipe(BuildKind Kind, string Dockerfile, IReadOnlyDictionary<string, string> ContextFiles, IReadOnlyList<CondaPackage> Packages)
    {
        public IReadOnlyList<RemoteContextFile> RemoteFiles { get; init; } = [];
    }

    /// <summary>At most this many <c>containerIncludes</c>, as in the reference server.</summary>
    public const int MaxIncludes = 10;

    /// <summary>
    /// One platform, or several comma-separated: then exactly linux/amd64 and linux/arm64 (the combination the reference
    /// server builds), in that order whatever the order asked.
    /// </summary>
    private static IReadOnlyList<ContainerPlatform> ParsePlatforms(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var platforms = new List<ContainerPlatform>();
        foreach (var part in parts)
        {
            if (!ContainerPlatform.TryParse(part, out var parsed, out var platformError))
            {
                throw Invalid("containerPlatform", $"'{text}' is not supported: {platformError}");
            }
            if (platforms.Contains(parsed))
            {
                throw Invalid("containerPlatform", $"'{text}' names {parsed} twice");
            }
            platforms.Add(parsed);
        }
        return platforms.OrderBy(p => p == ContainerPlatform.LinuxAmd64 ? 0 : 1).ToList();
    }

    /// <summary>
    /// <c>COPY --from=IMAGE / /</c> for each included image: its whole file system is merged on top of the recipe's result,
    /// for the platform being built (so a multi-platform build takes each image's matching platform).
    /// </summary>
    private static string IncludeInstructions(IReadOnlyList<string> includes)
    {
        if (includes.Count > MaxIncludes)
        {
            throw Invalid("containerIncludes", $"names {includes.Count} images; at most {MaxIncludes} can be included");
        }
        var text = new StringBuilder();
        for (var i = 0; i < includes.Count; i++)
        {
            if (!ImageReference.TryParse(includes[i], out var image, out var imageError))
            {
                throw Invalid($"containerIncludes[{i}]", $"'{includes[i]}' is not a valid image name: {imageError}");
            }
            text.Append("COPY --from=").Append(image).Append(" / /\n");
        }
        return text.ToString();
    }

    private static string AppendLine(string dockerfile, string lines) => (dockerfile.EndsWith('\n') ? dockerfile : dockerfile + "\n") + lines;

    /// <summary>Checks <c>buildContext</c> like a layer: a <c>data:</c> one here (bytes, digests, entries), an http(s) one in the builder.</summary>
    private static BuildContextArchive ReadBuildContext(ContainerLayer layer, BuildOptions options)
    {
        const string field = "buildContext";
        if (!LayerLocation.TryParse(layer.Location, out var location, out var locationError))
        {
            throw Invalid($"{field}.location", locationError);
        }
        if (!Digest.IsValid(layer.GzipDigest))
        {
            throw Invalid($"{field}.gzipDigest", layer.GzipDigest is null ? "is required" : $"'{layer.GzipDigest}' is not a sha256 digest (sha256:<64 lower-case hex>)");
        }
        if (!Digest.IsValid(layer.TarDigest))
        {
            throw Invalid($"{field}.tarDigest", layer.TarDigest is null ? "is required" : $"'{layer.TarDigest}' is not a sha256 digest (sha256:<64 lower-case hex>)");
        }
        if (layer.GzipSize <= 0)
        {
            throw Invalid($"{field}.gzipSize", "is required and must be greater than zero");
        }
        switch (location)
        {
            case LayerLocation.Inline inline:
                var bytes = inline.TryDecode() ?? throw Invalid($"{field}.location", "is not valid base64");
                if (LayerVerifier.Verify(bytes, layer, options.MaxLayerTarBytes) is { } mismatch)
                {
                    throw Invalid($"{field}.{mismatch.Field}", mismatch.Problem);
                }
                if (BuildContextTar.FindProblem(bytes) is { } problem)
                {
                    throw Invalid(field, problem);
                }
                return new BuildContextArchive { Data = bytes, GzipDigest = layer.GzipDigest!, GzipSize = layer.GzipSize, TarDigest = layer.TarDigest! };
            case LayerLocation.Remote remote:
                return new BuildContextArchive { Location = remote.Uri, GzipDigest = layer.GzipDigest!, GzipSize = layer.GzipSize, TarDigest = layer.TarDigest! };
            default:
                throw Invalid($"{field}.location", "must be an http(s) URL or a data: base64 payload");
        }
    }

    private static BuildCompression ReadCompression(BuildCompressionFields fields, BuildOptions options)
    {
        var mode = fields.Mode?.ToLowerInvariant() ?? BuildCompression.Gzip;
        if (!BuildCompression.Modes.Contains(mode))
        {
            throw Invalid("buildCompression.mode", $"'{fields.Mode}' is not a compression (expected {string.Join(", ", BuildCompression.Modes)})");
        }
        if (!options.Compressions.Contains(mode, StringComparer.OrdinalIgnoreCase))
        {
            throw Invalid("buildCompression.mode", $"'{mode}' cannot be written by this Wave service's builder, which compresses layers with {string.Join(" or ", options.Compressions)} (buildah 1.28 has no {mode} compressor)");
        }
        if (fields.Level is { } level && (level < 0 || level > BuildCompression.MaxLevel(mode)))
        {
            throw Invalid("buildCompression.level", $"{level} is not a {mode} level (0 to {BuildCompression.MaxLevel(mode)})");
        }
        if (fields.Force == true && !options.CanForceCompression)
        {
            throw Invalid("buildCompression.force", "cannot be honoured by this Wave service's builder: buildah 1.28 compresses the layers it builds and keeps the base image's layers as the registry holds them");
        }
        return new BuildCompression(mode, fields.Level, fields.Force == true);
    }

    /// <summary>The format of a Singularity image (SIF), pushed as an ORAS artifact; <c>singularity</c> is accepted as its other name.</summary>
    public const string SifFormat = "sif";

    public const string DockerFormat = "docker";

    private static string ParseFormat(string? format) => format?.ToLowerInvariant() switch
    {
        null or DockerFormat => DockerFormat,
        SifFormat or "singularity" => SifFormat,
        _ => throw Invalid("format", $"'{format}' is not a build format (expected docker or sif)"),
    };

    /// <summary>
    /// A SIF is always a durable image of the user's own (as the original Wave requires): freeze, an explicit build
    /// repository, one platform.
    /// </summary>
    private static void CheckSifRequest(BuildRequestFields fields)
    {
        if (!fields.Freeze)
        {
            throw Invalid("freeze", "must be true for format sif: a Singularity image is pushed as a durable ORAS artifact to your buildRepository, never served through a Wave token");
        }
        if (string.IsNullOrWhiteSpace(fields.BuildRepository))
        {
            throw Invalid("buildRepository", "is required for format sif: name the repository the Singularity image is pushed to (e.g. registry.example.com/me/sif)");
        }
        if (fields.ContainerPlatform is { } platform && platform.Contains(',', StringComparison.Ordinal))
        {
            throw Invalid("containerPlatform", $"'{platform}' names several platforms; a SIF holds one: ask once per platform");
        }
    }

    /// <summary>
    /// True when a <c>containerFile</c> is a Singularity definition file rather than a Dockerfile: its first line that is
    /// neither blank nor a comment is a <c>Bootstrap:</c> header.
    /// </summary>
    public static bool IsSingularityDefinition(string text)
    {
        foreach (var line in text.Split('\n'))
        {
            var trimmed = line.Trim();
            if (trimmed.Length == 0 || trimmed.StartsWith('#'))
            {
                continue;
            }
            return trimmed.StartsWith("bootstrap:", StringComparison.OrdinalIgnoreCase);
        }
        return false;
    }

    private static void CheckSources(BuildRequestFields fields)
    {
        var hasImage = !string.IsNullOrWhiteSpace(fields.ContainerImage);
        if (hasImage && fields.ContainerFile is not null)
        {
            throw Invalid("containerImage", "and containerFile cannot both be given: a request either names an image or builds one from a Dockerfile");
        }
        if (hasImage && (fields.Packages is not null || fields.CondaFile is not null || fields.SpackFile is not null))
        {
            var other = fields.Packages is not null ? "packages" : fields.CondaFile is not null ? "condaFile" : "spackFile";
            throw Invalid("containerImage", $"and {other} cannot both be given: a {other} build starts from its own base image (packages.condaOpts.mambaImage for Conda)");
        }
        if (fields.Packages is not null)
        {
            var other = fields.ContainerFile is not null ? "containerFile" : fields.CondaFile is not null ? "condaFile" : fields.SpackFile is not null ? "spackFile" : null;
            if (other is not null)
            {
                throw Invalid("packages", $"and {other} cannot both be given: the Dockerfile of a packages build is generated (add instructions with packages.condaOpts.commands, an environment with packages.environment)");
            }
        }
        if (fields.ContainerFile is null && fields.CondaFile is not null && fields.SpackFile is not null)
        {
            throw Invalid("spackFile", "and condaFile cannot both be given without a containerFile: choose one recipe");
        }
        if (!hasImage && fields.ContainerFile is null && fields.CondaFile is null && fields.SpackFile is null && fields.Packages is null)
        {
            throw Invalid("containerFile", "is required to build an image (or condaFile, spackFile, packages, or containerImage with freeze)");
        }
        if (hasImage && !fields.Freeze)
        {
            throw Invalid("containerImage", "asks for no build without freeze: an image alone is served as it is (or augmented), not built");
        }
    }

    private static Recipe RenderRecipe(BuildRequestFields fields, BuildOptions options, string format)
    {
        if (fields.ContainerFile is not null)
        {
            var dockerfile = RecipeText.Decode("containerFile", fields.ContainerFile, options.MaxDockerfileBytes);
            if (CredentialReadGuard.FindCredentialRead(dockerfile) is { } marker)
            {
                throw CredentialRead("containerFile", marker);
            }
            var context = new Dictionary<string, string>(StringComparer.Ordinal);
            var kind = BuildKind.Dockerfile;
            if (IsSingularityDefinition(dockerfile))
            {
                if (format != SifFormat)
                {
                    throw Invalid("containerFile", "is a Singularity definition file (it starts with 'Bootstrap:'): send it with format sif, freeze and a buildRepository");
                }
                var translated = SingularityDockerfile.Translate(dockerfile);
                foreach (var (path, text) in translated.ContextFiles)
                {
                    context[path] = text;
                }
                context[SingularityDockerfile.DefinitionFile] = dockerfile;
                dockerfile = translated.Dockerfile;
                kind = BuildKind.Singularity;
            }
            IReadOnlyList<CondaPackage> packages = [];
            if (fields.CondaFile is not null)
            {
                var conda = RecipeText.Decode("condaFile", fields.CondaFile, options.MaxCondaFileBytes);
                context[CondaTemplate.EnvironmentFileName] = conda;
                packages = PackagesOf(CondaEnvironmentDependencies.Read(conda));
            }
            if (fields.SpackFile is not null)
            {
                context[SpackTemplate.EnvironmentFileName] = RecipeText.Decode("spackFile", fields.SpackFile, options.MaxSpackFileBytes);
            }
            return new Recipe(kind, dockerfile, context, packages);
        }
        if (fields.Packages is not null)
        {
            return RenderPackages(fields.Packages, fields.BuildTemplate, options);
        }
        if (fields.CondaFile is not null)
        {
            var conda = RecipeText.Decode("condaFile", fields.CondaFile, options.MaxCondaFileBytes);
            var dockerfile = CondaTemplate.Render(options.MambaImage, SplitBasePackages("condaFile", options.CondaBasePackages), []);
            return new Recipe(BuildKind.Conda, dockerfile, OneFile(CondaTemplate.EnvironmentFileName, conda), PackagesOf(CondaEnvironmentDependencies.Read(conda)));
        }
        if (fields.SpackFile is not null)
        {
            var spack = RecipeText.Decode("spackFile", fields.SpackFile, options.MaxSpackFileBytes);
            var dockerfile = SpackTemplate.Render(options.SpackBuilderImage, options.SpackRunnerImage);
            return new Recipe(BuildKind.Spack, dockerfile, OneFile(SpackTemplate.EnvironmentFileName, spack), []);
        }
        if (!ImageReference.TryParse(fields.ContainerImage, out var image, out var imageError))
        {
            throw Invalid("containerImage", $"'{fields.ContainerImage}' is not a valid image name: {imageError}");
        }
        return new Recipe(BuildKind.Freeze, FreezeDockerfile.Render(image.ToString(), config: null), NoFiles(), []);
    }

    private static Recipe RenderPackages(PackagesFields packages, string? buildTemplate, BuildOptions options)
    {
        if (string.IsNullOrWhiteSpace(packages.Type))
        {
            throw Invalid("packages.type", "is required (CONDA or CRAN)");
        }
        var type = packages.Type.ToUpperInvariant();
        if (type is not (BuildTemplates.Conda or BuildTemplates.Cran))
        {
            var hint = type == "SPACK" ? ": send a Spack recipe as spackFile (base64 spack.yaml)" : "";
            throw Invalid("packages.type", $"'{packages.Type}' is not supported: CONDA or CRAN{hint}");
        }
        var template = string.IsNullOrWhiteSpace(buildTemplate) ? BuildTemplates.DefaultFor(type) : buildTemplate.Trim().ToLowerInvariant();
        if (!BuildTemplates.All.Contains(template))
        {
            throw Invalid("buildTemplate", $"'{buildTemplate}' is not a build template (expected {string.Join(", ", BuildTemplates.All)})");
        }
        if (BuildTemplates.TypeOf(template) != type)
        {
            throw Invalid("buildTemplate", $"'{template}' does not install packages of type {type} (packages.type)");
        }
        return type == BuildTemplates.Cran ? RenderCran(packages, options) : RenderConda(packages, template, options);
    }

    private static Recipe RenderConda(PackagesFields packages, string template, BuildOptions options)
    {
        var channels = packages.Channels ?? options.DefaultCondaChannels;
        CheckChannels(channels);
        var entries = packages.Entries ?? [];
        var lockFile = LockFileEntry(entries);
        var context = new Dictionary<string, string>(StringComparer.Ordinal);
        IReadOnlyList<RemoteContextFile> remoteFiles = [];
        IReadOnlyList<CondaPackage> names = [];
        if (lockFile is not null)
        {
            if (packages.Environment is not null)
            {
                throw Invalid("packages.entries", "and packages.environment cannot both be given: a lock file is the whole environment");
            }
            if (template == BuildTemplates.CondaPixiV1)
            {
                throw Invalid("packages.entries", $"names a Conda lock file, which the {BuildTemplates.CondaPixiV1} template cannot install (use {BuildTemplates.CondaMicromambaV2})");
            }
            remoteFiles = [new RemoteContextFile(CondaTemplate.LockFileName, lockFile, options.MaxCondaLockBytes)];
        }
        else
        {
            string environment;
            if (packages.Environment is not null)
            {
                if (entries.Count > 0)
                {
                    throw Invalid("packages.entries", "and packages.environment cannot both be given: list the packages in the environment file");
                }
                var file = RecipeText.Decode("packages.environment", packages.Environment, options.MaxCondaFileBytes);
                environment = CondaEnvironmentFile.FromEnvironment(file, packages.Channels ?? []);
                names = PackagesOf(CondaEnvironmentDependencies.Read(file));
            }
            else
            {
                if (entries.Count == 0)
                {
                    throw Invalid("packages.entries", "is empty: list package specs (e.g. bioconda::salmon=1.10.3) or give packages.environment");
                }
                for (var i = 0; i < entries.Count; i++)
                {
                    CheckEntry($"packages.entries[{i}]", entries[i]);
                }
                environment = CondaEnvironmentFile.FromPackages(entries, channels);
                names = PackagesOf(entries);
            }
            var size = Encoding.UTF8.GetByteCount(environment);
            if (size > options.MaxCondaFileBytes)
            {
                throw Invalid("packages", $"make a Conda environment of {size} bytes; at most {options.MaxCondaFileBytes} are allowed");
            }
            context[CondaTemplate.EnvironmentFileName] = environment;
        }

        string dockerfile;
        if (template == BuildTemplates.CondaPixiV1)
        {
            var pixi = packages.PixiOpts;
            var pixiImage = CheckImage("packages.pixiOpts.pixiImage", pixi?.PixiImage ?? options.PixiImage);
            var baseImage = CheckImage("packages.pixiOpts.baseImage", pixi?.BaseImage ?? options.CondaBaseImage);
            var basePackages = SplitBasePackages("packages.pixiOpts.basePackages", pixi?.BasePackages ?? options.PixiBasePackages);
            dockerfile = PixiTemplate.Render(pixiImage, baseImage, basePackages, CheckCommands("packages.pixiOpts.commands", pixi?.Commands));
        }
        else
        {
            var opts = packages.CondaOpts;
            var v2 = template == BuildTemplates.CondaMicromambaV2;
            var mambaImage = opts?.MambaImage ?? (v2 ? options.MambaImageV2 : options.MambaImage);
            // Clients send the v1 default image with every request; the v2 template needs micromamba 2.
            if (v2 && CondaTemplate.IsMicromambaV1(mambaImage))
            {
                mambaImage = options.MambaImageV2;
            }
            CheckImage("packages.condaOpts.mambaImage", mambaImage);
            var input = new CondaTemplateInput(
                mambaImage,
                lockFile is null ? CondaTemplate.EnvironmentFileName : CondaTemplate.LockFileName,
                channels,
                SplitBasePackages("packages.condaOpts.basePackages", opts?.BasePackages ?? options.CondaBasePackages),
                CheckCommands("packages.condaOpts.commands", opts?.Commands));
            dockerfile = v2
                ? CondaTemplate.RenderV2(input, CheckImage("packages.condaOpts.baseImage", opts?.BaseImage ?? options.CondaBaseImage))
                : CondaTemplate.RenderV1(input);
        }
        return new Recipe(BuildKind.Conda, dockerfile, context, names) { RemoteFiles = remoteFiles };
    }

    private static Recipe RenderCran(PackagesFields packages, BuildOptions options)
    {
        if (packages.Environment is not null)
        {
            throw Invalid("packages.environment", "is not supported for CRAN packages: list them in packages.entries (e.g. dplyr, bioc::limma)");
        }
        var entries = packages.Entries ?? [];
        if (entries.Count == 0)
        {
            throw Invalid("packages.entries", "is empty: list R packages (e.g. dplyr, bioc::limma)");
        }
        for (var i = 0; i < entries.Count; i++)
        {
            var entry = entries[i];
            if (string.IsNullOrWhiteSpace(entry) || entry.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is '\'' or '"' or '\\' or '`' or '$' or ';' or '#'))
            {
                throw Invalid($"packages.entries[{i}]", $"'{entry}' is not an R package name");
            }
        }
        var repositories = packages.Channels ?? [];
        for (var i = 0; i < repositories.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(repositories[i]) || repositories[i].Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is '\'' or '"' or '\\' or '`' or '$' or ';' or '#' or ')'))
            {
                throw Invalid($"packages.channels[{i}]", $"'{repositories[i]}' is not cran, bioconductor or a repository URL");
            }
        }
        var opts = packages.CranOpts;
        var rImage = CheckImage("packages.cranOpts.rImage", opts?.RImage ?? options.CranImage);
        var basePackages = SplitBasePackages("packages.cranOpts.basePackages", opts?.BasePackages ?? options.CranBasePackages);
        var dockerfile = CranTemplate.Render(rImage, entries, repositories, basePackages, CheckCommands("packages.cranOpts.commands", opts?.Commands));
        return new Recipe(BuildKind.Cran, dockerfile, NoFiles(), []);
    }

    /// <summary>The lock file a CONDA entry names (an http(s) URL), which must then be the only entry; null for plain specs.</summary>
    private static Uri? LockFileEntry(IReadOnlyList<string> entries)
    {
        var index = -1;
        for (var i = 0; i < entries.Count; i++)
        {
            if (entries[i] is { } entry && (entry.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || entry.StartsWith("https://", StringComparison.OrdinalIgnoreCase)))
            {
                index = i;
                break;
            }
        }
        if (index < 0)
        {
            return null;
        }
        var field = $"packages.entries[{index}]";
        if (entries.Count > 1)
        {
            throw Invalid(field, "is a Conda lock file URL, which must be the only entry (a lock file is the whole environment)");
        }
        if (!Uri.TryCreate(entries[index], UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || entries[index].Any(char.IsControl))
        {
            throw Invalid(field, $"'{entries[index]}' is not an http(s) URL");
        }
        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            throw Invalid(field, "must not carry credentials in the URL");
        }
        return uri;
    }

    private static void CheckChannels(IReadOnlyList<string> channels)
    {
        for (var i = 0; i < channels.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(channels[i]) || channels[i].Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is '\'' or '"' or '#'))
            {
                throw Invalid($"packages.channels[{i}]", $"'{channels[i]}' is not a channel name or URL");
            }
        }
    }

    private static string CheckImage(string field, string image)
    {
        if (!ImageReference.TryParse(image, out _, out var imageError))
        {
            throw Invalid(field, $"'{image}' is not a valid image name: {imageError}");
        }
        return image;
    }

    private static IReadOnlyList<string> CheckCommands(string field, IReadOnlyList<string>? commands)
    {
        commands ??= [];
        for (var i = 0; i < commands.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(commands[i]) || commands[i].Any(char.IsControl))
            {
                throw Invalid($"{field}[{i}]", "must be one Dockerfile instruction on one line");
            }
            if (CredentialReadGuard.FindCredentialRead(commands[i]) is { } marker)
            {
                throw CredentialRead($"{field}[{i}]", marker);
            }
        }
        return commands;
    }

    private static void CheckEntry(string field, string entry)
    {
        if (string.IsNullOrWhiteSpace(entry) || entry.Any(char.IsControl) || entry.Contains('#') || entry.Contains('\'') || entry.Contains('"'))
        {
            throw Invalid(field, $"'{entry}' is not a Conda package spec");
        }
    }

    private static IReadOnlyList<string> SplitBasePackages(string field, string basePackages)
    {
        var words = basePackages.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        foreach (var word in words)
        {
            if (word.Any(c => char.IsControl(c) || c is '\'' or '"' or '`' or '$'))
            {
                throw Invalid(field, $"'{word}' is not a Conda package spec");
            }
            if (CredentialReadGuard.FindCredentialRead(word) is { } marker)
            {
                throw CredentialRead(field, marker);
            }
        }
        return words;
    }

    private static void CheckConfig(ContainerConfig config)
    {
        for (var i = 0; i < (config.Env?.Count ?? 0); i++)
        {
            var entry = config.Env![i];
            var equals = entry?.IndexOf('=') ?? -1;
            if (entry is null || equals <= 0 || !IsEnvName(entry[..equals]) || entry.Any(char.IsControl))
            {
                throw Invalid($"containerConfig.env[{i}]", $"'{entry}' must have the form NAME=VALUE (NAME of letters, digits and '_', one line)");
            }
        }
        if (config.WorkingDir is { } workingDir && (workingDir.Trim().Length == 0 || workingDir.Any(char.IsControl)))
        {
            throw Invalid("containerConfig.workingDir", "must be a path on one line");
        }
        CheckArguments("containerConfig.entrypoint", config.Entrypoint);
        CheckArguments("containerConfig.cmd", config.Cmd);
    }

    private static void CheckArguments(string field, IReadOnlyList<string>? arguments)
    {
        for (var i = 0; i < (arguments?.Count ?? 0); i++)
        {
            if (arguments![i] is null)
            {
                throw Invalid($"{field}[{i}]", "must be a string");
            }
        }
    }

    private static bool IsEnvName(string name) =>
        (char.IsAsciiLetter(name[0]) || name[0] == '_') && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    private static void ReadLayers(ContainerConfig config, BuildOptions options, Dictionary<string, byte[]> binaryFiles, List<RemoteLayer> remoteLayers)
    {
        var layers = config.Layers ?? [];
        for (var i = 0; i < layers.Count; i++)
        {
            var field = $"containerConfig.layers[{i}]";
            var layer = layers[i];
            if (!LayerLocation.TryParse(layer.Location, out var location, out var locationError))
            {
                throw Invalid($"{field}.location", locationError);
            }
            if (!Digest.IsValid(layer.GzipDigest))
            {
                throw Invalid($"{field}.gzipDigest", layer.GzipDigest is null ? "is required" : $"'{layer.GzipDigest}' is not a sha256 digest (sha256:<64 lower-case hex>)");
            }
            if (!Digest.IsValid(layer.TarDigest))
            {
                throw Invalid($"{field}.tarDigest", layer.TarDigest is null ? "is required" : $"'{layer.TarDigest}' is not a sha256 digest (sha256:<64 lower-case hex>)");
            }
            if (layer.GzipSize <= 0)
            {
                throw Invalid($"{field}.gzipSize", "is required and must be greater than zero");
            }
            var path = FreezeDockerfile.LayerFileName(i);
            switch (location)
            {
                case LayerLocation.Inline inline:
                    var bytes = inline.TryDecode() ?? throw Invalid($"{field}.location", "is not valid base64");
                    if (LayerVerifier.Verify(bytes, layer, options.MaxLayerTarBytes) is { } mismatch)
                    {
                        throw Invalid($"{field}.{mismatch.Field}", mismatch.Problem);
                    }
                    binaryFiles[path] = bytes;
                    break;
                case LayerLocation.Remote remote:
                    remoteLayers.Add(new RemoteLayer(path, remote.Uri, layer.GzipDigest!, layer.GzipSize));
                    break;
            }
        }
    }

    private static IReadOnlyList<CondaPackage> PackagesOf(IEnumerable<string> specs) =>
        specs.Select(CondaPackage.FromSpec).OfType<CondaPackage>().ToList();

    private static Dictionary<string, string> NoFiles() => new(StringComparer.Ordinal);

    private static Dictionary<string, string> OneFile(string path, string text) => new(StringComparer.Ordinal) { [path] = text };

    private static InvalidBuildRequestException CredentialRead(string field, string marker) =>
        Invalid(field, $"reads the build's registry credentials ('{marker}'), which builds may not do");

    private static InvalidBuildRequestException Invalid(string field, string problem) => RecipeText.Invalid(field, problem);
}
