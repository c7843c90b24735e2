// Placeholders for extension methods other branches provide; deleted when they are merged.
using Microsoft.Extensions.DependencyInjection;

namespace Wave.Core.Registry
{
    public static class RegistryServiceCollectionExtensions
    {
        public static IServiceCollection AddRegistryClient(this IServiceCollection services) => services;
    }
}
